/**
 * The NVMe driver (src/drivers/nvme, written against api/ only) on Linux VFIO against QEMU's
 * NVMe controller at 00:06.0 in the test guest: the driver's suite in every completion mode,
 * with the guest's DMAR log as the IOMMU's fault record, and a teardown leak check.
 *
 * The controller's configuration is scripts/guest/run's QEMU command line: the default boot
 * (one namespace on a 1 MiB image, MDTS 7) or, with VFIO_GUEST_VARIANT=nvme-small, a second
 * namespace with 4 KiB blocks and MDTS 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openDevice } from "../../src/api/open-device.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { NvmeController } from "../../src/drivers/nvme/index.js";
import { nvmeDriverSuite, type NvmeExpectation } from "../drivers/nvme/nvme-suite.js";
import { NVME, kernelLog, lockedBytes, mappingCount, openFdCount, skip, waitFor } from "./guest.js";

/** What scripts/guest/run gives QEMU for each boot variant. */
const expectations: Record<string, NvmeExpectation> = {
  default: {
    serial: "vfio-ts",
    model: "QEMU NVMe Ctrl",
    maxTransferBytes: 2 ** 7 * 4096,
    namespaces: [{ nsid: 1, blocks: 2048n, blockSize: 512 }],
  },
  "nvme-small": {
    serial: "vfio-ts-small",
    model: "QEMU NVMe Ctrl",
    maxTransferBytes: 2 ** 2 * 4096,
    namespaces: [
      { nsid: 1, blocks: 2048n, blockSize: 512 },
      { nsid: 2, blocks: 512n, blockSize: 4096 },
    ],
  },
};
const variant = process.env["VFIO_GUEST_VARIANT"] ?? "default";
const expect = expectations[variant] ?? expectations["default"]!;

const slot = NVME.slice(5); // "00:06.0", as the DMAR unit names the requester
async function openTarget() {
  const system = new KernelSystem();
  const opened = await openDevice(system, NVME);
  return {
    device: opened.device,
    dma: opened.dma,
    fault: (access: "read" | "write", iova: bigint) => {
      const line = new RegExp(`DMAR: \\[DMA ${access === "read" ? "Read" : "Write"}[^\\]]*\\] Request device \\[${slot.replace(".", "\\.")}\\] fault addr 0x${iova.toString(16)}\\b`);
      return waitFor(() => line.test(kernelLog()), 3000);
    },
    close: async () => {
      await opened.close();
      await system.close();
    },
  };
}

nvmeDriverSuite(`the kernel backend (${NVME}, QEMU's controller, boot "${variant}")`, expect, openTarget, { skip, timeoutMs: 20_000 });

test("after the driver and the device close, no fd, device or DMA mapping, or locked memory of theirs remains", { skip }, async () => {
  // Device (BAR) and DMA-memory mappings are named in /proc/self/maps (lifecycle.test.ts).
  const ours = /vfio-device|memfd:vfio-ts/;
  let whileOpen = 0;
  const run = async () => {
    const target = await openTarget();
    const controller = await NvmeController.open(target.device, target.dma, { completion: "msix", ioQueues: 2, queueDepth: 128 });
    await controller.namespace().writeBytes(0, new Uint8Array(4096).fill(1));
    await controller.namespace().readBytes(0, 8);
    whileOpen = mappingCount(ours);
    await controller.close();
    await target.close();
  };
  await run(); // warm up: lazily created state (koffi, the libc table) is not a leak
  const before = { fds: openFdCount(), ours: mappingCount(ours), locked: lockedBytes() };
  for (let i = 0; i < 3; i++) await run();
  assert.ok(whileOpen >= before.ours + 3, `BAR0 and the driver's DMA buffers show while open (${whileOpen} vs ${before.ours})`);
  assert.deepEqual({ fds: openFdCount(), ours: mappingCount(ours), locked: lockedBytes() }, before);
});
