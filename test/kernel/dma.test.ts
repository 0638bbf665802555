// Guest tests of DMA through the IOMMU: the edu copies between its buffer and memory mapped with
// VFIO_IOMMU_MAP_DMA, and a DMA to an IOVA not mapped is blocked and logged by the DMAR unit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD } from "../../src/api/constants.js";
import { enableMemoryAndBusMaster } from "../../src/api/pci-config.js";
import type { RegionMapping } from "../../src/api/device.js";
import type { MemfdMemory } from "../../src/native/process-memory.js";
import { readFileSync, writeFileSync } from "node:fs";
import { edu, kernelLog, open, quietEdu, skip, sleep, waitFor } from "./guest.js";

const LENGTH = 1024; // QEMU 7.2's edu stops the guest on a transfer reaching its buffer's last byte.

async function transfer(bar: RegionMapping, src: bigint, dst: bigint, toRam: boolean, irq = false): Promise<void> {
  bar.write64(edu.DMA_SRC, src);
  bar.write64(edu.DMA_DST, dst);
  bar.write32(edu.DMA_COUNT, LENGTH);
  bar.write32(edu.DMA_CMD, edu.DMA_START | (toRam ? edu.DMA_TO_RAM : 0) | (irq ? edu.DMA_IRQ : 0));
  if (!irq) assert.ok(await waitFor(() => (bar.read32(edu.DMA_CMD) & edu.DMA_START) === 0, 5000), "DMA did not complete");
}

test("DMA both ways: memory → edu → memory through IOVAs below the edu's 28-bit limit", { skip }, async (t) => {
  const { device, dma } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const buffer = await dma.allocate(8192);
  assert.ok(buffer.iova + BigInt(buffer.size) <= edu.DMA_LIMIT, `IOVA 0x${buffer.iova.toString(16)}`);
  for (let i = 0; i < LENGTH; i++) buffer.bytes[i] = (i * 7 + 3) & 0xff;
  await transfer(bar, buffer.iova, edu.BUFFER, false);
  await transfer(bar, edu.BUFFER, buffer.iova + 4096n, true);
  assert.deepEqual(buffer.bytes.subarray(4096, 4096 + LENGTH), buffer.bytes.subarray(0, LENGTH));
  assert.equal(buffer.bytes[4096 + LENGTH], 0, "nothing past the transfer");
});

test("a DMA that completes raises its MSI (interrupt status 0x100)", { skip }, async (t) => {
  const { device, dma } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const notifier = device.createNotifier();
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 1, start: 0, count: 1, notifiers: [notifier] });
  const buffer = await dma.allocate(4096);
  buffer.bytes.fill(0x11, 0, LENGTH);
  const done = notifier.next();
  await transfer(bar, buffer.iova, edu.BUFFER, false, true);
  assert.equal(await Promise.race([done, sleep(5000).then(() => -1n)]), 1n);
  assert.equal(bar.read32(edu.IRQ_STATUS) & 0x100, 0x100);
  bar.write32(edu.IRQ_ACK, 0x100);
});

test("a DMA to an IOVA that is no longer mapped writes nothing, and the DMAR unit logs the fault", { skip }, async (t) => {
  const { device, container, system } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const memory = system.allocateMemory(4096);
  const iova = 0x3456000n;
  await container.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: memory.vaddr, iova, size: 4096n });
  memory.bytes.fill(0xaa, 0, LENGTH);
  await transfer(bar, iova, edu.BUFFER, false);
  assert.equal(await container.unmapDma({ flags: 0, iova, size: 4096n }), 4096n);
  memory.bytes.fill(0x5a);
  await transfer(bar, edu.BUFFER, iova, true);
  assert.ok(memory.bytes.every((b) => b === 0x5a), "memory changed by a blocked DMA");
  const fault = new RegExp(`DMAR: \\[DMA Write[^\\]]*\\] Request device \\[00:03\\.0\\] fault addr 0x${iova.toString(16)}`);
  assert.ok(await waitFor(() => fault.test(kernelLog()), 3000), "no DMAR fault in the kernel log");
});

test("a buffer mapped read-only for the device cannot be written by it", { skip }, async (t) => {
  const { device, dma } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const source = await dma.allocate(4096);
  source.bytes.fill(0x77, 0, LENGTH);
  await transfer(bar, source.iova, edu.BUFFER, false);
  const readOnly = await dma.allocate(4096, { write: false });
  readOnly.bytes.fill(0x33);
  await transfer(bar, edu.BUFFER, readOnly.iova, true);
  assert.ok(readOnly.bytes.every((b) => b === 0x33));
});

test("huge pages: with a hugetlb pool, a 2 MiB buffer is one huge page at a 2 MiB-aligned IOVA, and DMA reaches it", { skip }, async (t) => {
  const pool = "/proc/sys/vm/nr_hugepages";
  const before = readFileSync(pool, "utf8").trim();
  writeFileSync(pool, "2");
  t.after(() => writeFileSync(pool, before));
  if (Number(readFileSync(pool, "utf8")) < 1) {
    t.skip("the guest could not reserve a huge page");
    return;
  }
  const { device, dma } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const buffer = await dma.allocate(2 << 20);
  assert.equal((buffer as unknown as { memory: MemfdMemory }).memory.hugepages, true);
  assert.equal(buffer.size, 2 << 20);
  assert.equal(buffer.iova % (2n << 20n), 0n);
  const at = (1 << 20) + 4096;
  for (let i = 0; i < LENGTH; i++) buffer.bytes[at + i] = (i * 13) & 0xff;
  await transfer(bar, buffer.iova + BigInt(at), edu.BUFFER, false);
  await transfer(bar, edu.BUFFER, buffer.iova + 64n, true);
  assert.deepEqual(buffer.bytes.subarray(64, 64 + LENGTH), buffer.bytes.subarray(at, at + LENGTH));
});
