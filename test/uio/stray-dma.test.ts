/**
 * The contrast VFIO exists for, on the emulated machine: the same edu DMA to an address the
 * driver never gave the device is blocked by the IOMMU on VFIO (a DMAR fault, no byte changed)
 * and lands in memory on UIO with iommu=pt (the bytes change); on UIO with a translating
 * default domain the IOMMU faults it, as Linux's DMA-FQ domain would.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RegionMapping } from "../../src/api/device.js";
import { PCI_COMMAND } from "../../src/api/constants.js";
import { updateCommand } from "../../src/api/pci-config.js";
import { EmulatedSystem } from "../../src/emu/system.js";
import { openDevice } from "../../src/api/open-device.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { openUioDevice } from "../../src/uio/open.js";
import { EDU, EDU2, uioMachine } from "./emulated-machine.js";

const REG = { src: 0x80, dst: 0x88, count: 0x90, cmd: 0x98 } as const;
const DEVICE_BUFFER = 0x40000;

async function dma(bar: RegionMapping, src: bigint, dst: bigint, toRam: boolean): Promise<void> {
  bar.write32(REG.src, Number(src));
  bar.write32(REG.dst, Number(dst));
  bar.write32(REG.count, 256);
  bar.write32(REG.cmd, 1 | (toRam ? 2 : 0));
  for (let i = 0; (bar.read32(REG.cmd) & 1) !== 0; i++) {
    if (i > 1000) throw new Error("edu DMA did not complete");
    await new Promise((r) => setImmediate(r));
  }
}

test("UIO (iommu=pt): a device write to a page the driver never gave it changes that page; a read fetches it", async (t) => {
  const { system, machine } = await uioMachine();
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  t.after(() => opened.close());
  await updateCommand(opened.device, 0x6);
  const bar = await opened.device.mapRegion(0);
  const own = await opened.dma.allocate(4096, { limit: 1n << 28n });
  const victim = await opened.dma.allocate(4096, { limit: 1n << 28n });
  const pattern = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 1) & 0xff);
  own.bytes.set(pattern);
  await dma(bar, own.iova, BigInt(DEVICE_BUFFER), false);
  victim.bytes.fill(0xee);
  await dma(bar, BigInt(DEVICE_BUFFER), victim.iova, true);
  assert.deepEqual(victim.bytes.subarray(0, 256), pattern);
  // And memory nobody allocated (the kernel's, another process's): it changes too.
  const elsewhere = 0x100000n;
  assert.ok(machine.physicalMemory.peek(elsewhere, 256).every((b) => b === 0));
  await dma(bar, BigInt(DEVICE_BUFFER), elsewhere, true);
  assert.deepEqual(machine.physicalMemory.peek(elsewhere, 256), pattern);
  const secret = Uint8Array.from({ length: 256 }, (_, i) => 0xa5 ^ i);
  victim.bytes.set(secret);
  own.bytes.fill(0);
  await dma(bar, victim.iova, BigInt(DEVICE_BUFFER), false);
  await dma(bar, BigInt(DEVICE_BUFFER), own.iova, true);
  assert.deepEqual(own.bytes.subarray(0, 256), secret);
  assert.equal(machine.faults.length, 0);
  bar.unmap();
});

test("VFIO on the same machine: the IOMMU blocks the stray DMA and logs the faults", async (t) => {
  const { machine } = await uioMachine();
  const system = new EmulatedSystem(machine);
  const opened = await openDevice(system, EDU2);
  let driver: EduDriver | undefined;
  t.after(async () => {
    await driver?.close();
    await opened.close();
  });
  driver = await EduDriver.open(opened.device, opened.dma);
  const demo = await driver.demonstrateIommu();
  assert.equal(demo.blocked, true);
  assert.deepEqual(machine.faults.map((f) => f.access), ["write", "read"]);
});

test("UIO under a translating default domain (no iommu=pt): the IOMMU faults the device's DMA", async (t) => {
  const { system, machine } = await uioMachine({ defaultDomain: "DMA-FQ" });
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  t.after(() => opened.close());
  await updateCommand(opened.device, 0x6);
  const bar = await opened.device.mapRegion(0);
  const victim = await opened.dma.allocate(4096, { limit: 1n << 28n });
  victim.bytes.fill(0xee);
  await dma(bar, BigInt(DEVICE_BUFFER), victim.iova, true);
  assert.ok(victim.bytes.every((b) => b === 0xee));
  assert.deepEqual(machine.faults.map((f) => [f.device, f.access]), [[EDU, "write"]]);
  assert.equal((await system.sysfs.read(`bus/pci/devices/${EDU}/iommu_group/type`))?.trim(), "DMA-FQ");
  bar.unmap();
  void PCI_COMMAND;
});
