/**
 * The UIO backend's own rules, on the emulated machine and on hostile input: the opt-in, the
 * pagemap without CAP_SYS_ADMIN, what a DMA space without an IOMMU refuses, MSI refused with
 * EINVAL, the plain mode's missing interrupt and DMA, malformed sysfs resource lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from "../../src/api/constants.js";
import { openUioDevice } from "../../src/uio/open.js";
import { contiguous, physicalAddresses } from "../../src/uio/pagemap.js";
import { parseResources } from "../../src/uio/resources.js";
import { EDU, uioMachine } from "./emulated-machine.js";

test("every mode demands { unsafeNoIommu: true }: EUNSAFE otherwise, before sysfs is read", async () => {
  const { system } = await uioMachine();
  await assert.rejects(openUioDevice(system, EDU), { code: "EUNSAFE" });
  await assert.rejects(openUioDevice(system, EDU, { mode: "plain" }), { code: "EUNSAFE" });
  await assert.rejects(openUioDevice(system, EDU, { unsafeNoIommu: "yes" as unknown as boolean }), { code: "EUNSAFE" });
  await assert.rejects(openUioDevice(system, "nonsense", { unsafeNoIommu: true }), { code: "EUSAGE" });
});

test("UIO mode needs uio_pci_generic bound; plain mode refuses a device a kernel driver owns", async () => {
  const { system } = await uioMachine({ driver: "none" });
  await assert.rejects(openUioDevice(system, EDU, { unsafeNoIommu: true }), { code: "ENODEV" });
  const plain = await openUioDevice(system, EDU, { unsafeNoIommu: true, mode: "plain" });
  await plain.close();
  await assert.rejects(openUioDevice(system, "0000:01:02.0", { unsafeNoIommu: true, mode: "plain" }), { code: "EBUSY" });
});

test("without CAP_SYS_ADMIN pagemap shows no frame numbers: DMA allocation fails with EPERM", async (t) => {
  const { system } = await uioMachine({ capSysAdmin: false });
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  t.after(() => opened.close());
  await assert.rejects(opened.dma.allocate(4096), { code: "EPERM" });
});

test("a DMA space without an IOMMU refuses a chosen IOVA and read-only buffers (EINVAL); IOVA is the physical address", async (t) => {
  const { system, machine } = await uioMachine();
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  t.after(() => opened.close());
  await assert.rejects(opened.dma.allocate(4096, { iova: 0x10000n }), { code: "EINVAL" });
  await assert.rejects(opened.dma.allocate(4096, { write: false }), { code: "EINVAL" });
  // Emulated pages are never contiguous across allocations but are within one: 3 pages work.
  const buffer = await opened.dma.allocate(3 * 4096);
  buffer.bytes[5000] = 0x5a;
  assert.equal(machine.physicalMemory.peek(buffer.iova + 5000n, 1)[0], 0x5a);
  // No memory below 4 KiB is ever handed out: a limit it cannot meet fails with ENOMEM.
  await assert.rejects(opened.dma.allocate(4096, { limit: 0x1000n }), { code: "ENOMEM" });
});

test("MSI and MSI-X: count 0, and SET_IRQS asking for a vector fails with EINVAL (disabling is accepted)", async (t) => {
  const { system } = await uioMachine();
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  t.after(() => opened.close());
  const n = opened.device.createNotifier();
  for (const index of [VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX]) {
    assert.equal((await opened.device.irqInfo(index)).count, 0);
    await assert.rejects(opened.device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 1, notifiers: [n] }), { code: "EINVAL" });
    await opened.device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 0 });
  }
  await assert.rejects(opened.device.irqInfo(5), { code: "EINVAL" });
  // Unmask before a trigger is set: EINVAL, as vfio_pci_set_intx_unmask.
  await assert.rejects(opened.device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: 0, start: 0, count: 1 }), { code: "EINVAL" });
});

test("plain mode: BAR0 mapped, no INTx vector, and DMA is ENOTSUP", async (t) => {
  const { system } = await uioMachine();
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true, mode: "plain" });
  t.after(() => opened.close());
  assert.equal((await opened.device.irqInfo(0)).count, 0);
  await assert.rejects(opened.dma.allocate(4096), { code: "ENOTSUP" });
  const bar = await opened.device.mapRegion(0);
  await opened.device.write(7, 4n, Uint8Array.of(0x02, 0));
  assert.equal(bar.read32(0) & 0xffff, 0x00ed);
  await assert.rejects(opened.device.mapRegion(0, 0n, undefined, { writeCombine: true }), { code: "ENOENT" });
  await assert.rejects(opened.device.mapRegion(1), { code: "EINVAL" });
  await opened.close();
  await assert.rejects(opened.device.regionInfo(0), { code: "EBADF" });
  assert.throws(() => bar.read32(0), { code: "EFAULT" });
});

test("pagemap entries: present bit and PFN decoded; PFN 0 is EPERM, absent is EFAULT; contiguity", () => {
  const present = 1n << 63n;
  assert.deepEqual(physicalAddresses(BigUint64Array.of(present | 0x994cn, present | 0x994dn), 4096), [0x994c000n, 0x994d000n]);
  assert.throws(() => physicalAddresses(BigUint64Array.of(present), 4096), { code: "EPERM" });
  assert.throws(() => physicalAddresses(BigUint64Array.of(0x994cn), 4096), { code: "EFAULT" });
  assert.equal(contiguous([0x1000n, 0x2000n, 0x3000n], 4096), true);
  assert.equal(contiguous([0x1000n, 0x3000n], 4096), false);
});

test("sysfs resource lines: parsed; a malformed one is EPROTO naming the line", () => {
  const text = "0x00000000fe400000 0x00000000fe4fffff 0x0000000000040200\n0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
  assert.deepEqual(parseResources(text, "x"), [{ start: 0xfe400000n, size: 0x100000n, flags: 0x40200 }, { start: 0n, size: 0n, flags: 0 }]);
  assert.throws(() => parseResources("0x1 0x2\n", "x"), { code: "EPROTO" });
  assert.throws(() => parseResources("0x10 0x1 0x200\n", "x"), { code: "EPROTO" });
  assert.throws(() => parseResources("zz yy xx\n", "x"), { code: "EPROTO" });
});
