/**
 * The edu driver on real Linux VFIO: QEMU's own edu at 0000:00:03.0 in the test guest
 * (scripts/guest, GUEST.md), behind the emulated Intel IOMMU. Outside the guest every test is
 * skipped. Run: npm run build && scripts/guest/run -- node --test dist/test/drivers/edu.kernel.test.js
 */
import { existsSync } from "node:fs";
import { openDevice } from "../../src/api/open-device.js";
import { eduDriverSuite } from "./edu-suite.js";

const inGuest = existsSync("/dev/vfio/vfio");
const address = process.env["VFIO_EDU_DEVICE"] ?? "0000:00:03.0";

eduDriverSuite(
  `Linux VFIO (${address})`,
  async () => {
    const { KernelSystem } = await import("../../src/kernel/index.js");
    const system = new KernelSystem();
    const opened = await openDevice(system, address);
    return {
      device: opened.device,
      dma: opened.dma,
      close: async () => {
        await opened.close();
        await system.close();
      },
    };
  },
  { skip: inGuest ? false : "no /dev/vfio/vfio: not inside the test guest (scripts/guest/run)", timeoutMs: 10_000 },
);
