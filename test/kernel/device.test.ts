// Guest tests of KernelDevice against Linux 6.1's vfio-pci and QEMU's edu (skipped outside the test guest).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PCI_CAP_ID_MSI, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_VENDOR_ID,
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_CAPS, PCI_CAP_ID_MSIX,
} from "../../src/api/constants.js";
import { enableMemoryAndBusMaster, listCapabilities, readConfig } from "../../src/api/pci-config.js";
import { EDU, NVME, edu, open, quietEdu, skip, waitFor } from "./guest.js";

const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

test("device info: a PCI device with 9 regions and 5 IRQ indexes; edu has no reset method", { skip }, async (t) => {
  const { device } = await open(t);
  const info = await device.info();
  assert.equal(info.flags & VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PCI);
  assert.equal(info.flags & VFIO_DEVICE_FLAGS_RESET, 0);
  assert.equal(info.numRegions, 9);
  assert.equal(info.numIrqs, 5);
});

test("regions: BAR0 is 1 MiB read/write/mmap, BARs 1-5 and the ROM are empty, config is 256 bytes without mmap, VGA is EINVAL", { skip }, async (t) => {
  const { device } = await open(t);
  const bar0 = await device.regionInfo(0);
  assert.equal(bar0.size, 1n << 20n);
  assert.equal(bar0.flags, RW | VFIO_REGION_INFO_FLAG_MMAP);
  assert.deepEqual(bar0.caps, []);
  for (let index = 1; index <= 6; index++) {
    const region = await device.regionInfo(index);
    assert.equal(region.size, 0n, `region ${index}`);
    assert.equal(region.offset, BigInt(index) << 40n);
  }
  const config = await device.regionInfo(VFIO_PCI_CONFIG_REGION_INDEX);
  assert.equal(config.size, 256n);
  assert.equal(config.flags, RW);
  await assert.rejects(device.regionInfo(8), { code: "EINVAL", op: "VFIO_DEVICE_GET_REGION_INFO" });
  await assert.rejects(device.regionInfo(9), { code: "EINVAL" });
  await assert.rejects(device.mapRegion(VFIO_PCI_CONFIG_REGION_INDEX), { code: "EINVAL", op: "mmap" });
  await assert.rejects(device.mapRegion(0, 0x800n, 0x1000n), { code: "EINVAL", op: "mmap" });
});

test("config space: vendor/device 1234:11e8, the MSI capability in the list, Command bits set and read back", { skip }, async (t) => {
  const { device } = await open(t);
  assert.equal(await readConfig(device, PCI_VENDOR_ID, 2), 0x1234);
  assert.equal(await readConfig(device, PCI_DEVICE_ID, 2), 0x11e8);
  const caps = await listCapabilities(device);
  assert.ok(caps.some((c) => c.id === PCI_CAP_ID_MSI && !c.extended), JSON.stringify(caps));
  const command = await enableMemoryAndBusMaster(device);
  assert.equal(command & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  assert.equal(await readConfig(device, PCI_COMMAND, 2), command);
});

test("config space reads past its end are EFAULT (vfio_pci_config_rw), as are reads that cross it", { skip }, async (t) => {
  const { device } = await open(t);
  await assert.rejects(device.read(VFIO_PCI_CONFIG_REGION_INDEX, 256n, 4), { code: "EFAULT", op: "region read" });
  await assert.rejects(device.read(VFIO_PCI_CONFIG_REGION_INDEX, 254n, 4), { code: "EFAULT" });
});

test("BAR0 through mmap: identification, liveness inverse, factorial", { skip }, async (t) => {
  const { device } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  assert.equal(bar.size, 1 << 20);
  assert.equal(bar.read32(edu.ID), 0x010000ed);
  bar.write32(edu.LIVENESS, 0x12345678);
  assert.equal(bar.read32(edu.LIVENESS), ~0x12345678 >>> 0);
  bar.write32(edu.FACTORIAL, 10);
  assert.ok(await waitFor(() => (bar.read32(edu.STATUS) & 1) === 0, 2000));
  assert.equal(bar.read32(edu.FACTORIAL), 3628800);
});

test("BAR0 through pread/pwrite agrees with the mapping; a read crossing the end is cut short; past the end is EINVAL", { skip }, async (t) => {
  const { device } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  await device.write(0, BigInt(edu.LIVENESS), Uint8Array.of(0x01, 0x02, 0x03, 0x04));
  assert.equal(bar.read32(edu.LIVENESS), ~0x04030201 >>> 0);
  const id = await device.read(0, BigInt(edu.ID), 4);
  assert.deepEqual([...id], [0xed, 0x00, 0x00, 0x01]);
  const crossing = await device.read(0, (1n << 20n) - 2n, 4);
  assert.equal(crossing.byteLength, 2);
  await assert.rejects(device.read(0, 1n << 20n, 4), { code: "EINVAL", op: "region read" });
});

test("a closed device's mappings refuse access instead of faulting", { skip }, async (t) => {
  const { device } = await open(t);
  const bar = await device.mapRegion(0);
  const stale = bar.bytes;
  await device.close();
  assert.throws(() => bar.read32(0), { code: "EFAULT" });
  assert.equal(stale!.byteLength, 1 << 20);
  assert.equal(stale![0], 0);
});

test("IRQ info: INTx maskable and automasked, MSI one vector, no MSI-X, no ERR index on conventional PCI, REQ", { skip }, async (t) => {
  const { device } = await open(t);
  assert.deepEqual(await device.irqInfo(0), { index: 0, count: 1, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED });
  assert.deepEqual(await device.irqInfo(1), { index: 1, count: 1, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE });
  assert.equal((await device.irqInfo(2)).count, 0);
  await assert.rejects(device.irqInfo(3), { code: "EINVAL", op: "VFIO_DEVICE_GET_IRQ_INFO" });
  assert.equal((await device.irqInfo(4)).count, 1);
  await assert.rejects(device.irqInfo(5), { code: "EINVAL" });
});

test("reset: EINVAL on the edu (no FLR or PM reset); on the NVMe it resets the controller's registers", { skip }, async (t) => {
  const { device } = await open(t, EDU);
  await assert.rejects(device.reset(), { code: "EINVAL", op: "VFIO_DEVICE_RESET" });
  const nvme = await open(t, NVME);
  assert.equal((await nvme.device.info()).flags & VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_RESET);
  await enableMemoryAndBusMaster(nvme.device);
  const bar = await nvme.device.mapRegion(0, 0n, 0x1000n);
  // NVMe base spec §3.1: CC (0x14) and INTMS (0x0c), both cleared by a controller reset.
  bar.write32(0x14, 0x00460000);
  bar.write32(0x0c, 1);
  assert.equal(bar.read32(0x14), 0x00460000);
  await nvme.device.reset();
  assert.equal(bar.read32(0x14), 0);
  assert.equal(bar.read32(0x0c), 0);
});

test("region capabilities: the NVMe's BAR0 holds the MSI-X table and says it is mappable anyway (MSIX_MAPPABLE)", { skip }, async (t) => {
  const { device } = await open(t, NVME);
  const bar0 = await device.regionInfo(0);
  assert.equal(bar0.flags, RW | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
  assert.deepEqual(bar0.caps, [{ id: 3, kind: "msix-mappable", version: 1 }]);
  const whole = await device.mapRegion(0);
  assert.equal(BigInt(whole.size), bar0.size);
  assert.ok(await listCapabilities(device).then((caps) => caps.some((c) => c.id === PCI_CAP_ID_MSIX)));
});
