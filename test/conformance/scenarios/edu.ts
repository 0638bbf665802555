/**
 * edu scenarios (QEMU docs/specs/edu.rst): the device driven through VFIO — identification,
 * factorial, DMA both ways through mapped IOVAs, MSI and INTx through eventfds, and a DMA to an
 * unmapped IOVA that the IOMMU blocks. Transfers stay below 4 KiB (QEMU 7.2's edu stops the
 * machine on a transfer that reaches the buffer's last byte) and IOVAs below 256 MiB (its
 * 28-bit DMA mask).
 */
import {
  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IRQ_SET_ACTION_TRIGGER as TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK as UNMASK, VFIO_IRQ_SET_DATA_EVENTFD as EVENTFD, VFIO_IRQ_SET_DATA_NONE as NONE,
} from "../../../src/api/constants.js";
import type { VfioDevice } from "../../../src/api/device.js";
import { EDU_PORT, EDU_ROOT, memory, openDevice, read16, read32, waitFor, write16, write32 } from "../fixture.js";
import type { Scenario, ScenarioContext } from "../scenario.js";
import { counter } from "./irq.js";
import { ContainerDmaSpace } from "../../../src/api/container-dma-space.js";
import { EduDriver } from "../../../src/drivers/edu.js";

const BAR0 = 0;
const CONFIG = 7;
const EDU_BUFFER = 0x40000n;
const IOVA = 0x100000n;

async function enableBusMaster(device: VfioDevice): Promise<void> {
  const cmd = await read16(device, CONFIG, 0x04);
  await write16(device, CONFIG, 0x04, cmd | 0x4);
}

async function write64(device: VfioDevice, offset: number, value: bigint): Promise<void> {
  await write32(device, BAR0, offset, Number(value & 0xffffffffn));
  await write32(device, BAR0, offset + 4, Number(value >> 32n));
}

/** Starts a DMA (direction 0: RAM → device buffer, 1: device buffer → RAM) and waits for it. */
async function dma(device: VfioDevice, src: bigint, dst: bigint, count: number, toRam: boolean, irq = false): Promise<boolean> {
  await write64(device, 0x80, src);
  await write64(device, 0x88, dst);
  await write64(device, 0x90, BigInt(count));
  await write32(device, BAR0, 0x98, 1 | (toRam ? 2 : 0) | (irq ? 4 : 0));
  return waitFor(async () => ((await read32(device, BAR0, 0x98)) & 1) === 0);
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

async function mapped(ctx: ScenarioContext, c: Awaited<ReturnType<typeof openDevice>>["container"], pages: number) {
  const m = memory(ctx, pages * 4096);
  await c.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: m.vaddr, iova: IOVA, size: BigInt(pages * 4096) });
  return m;
}

export const eduScenarios: readonly Scenario[] = [
  {
    id: "edu.identification",
    title: "edu's identification register and liveness check (reads back the inverse)",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      ctx.record("id", await read32(device, BAR0, 0x00));
      await write32(device, BAR0, 0x04, 0x12345678);
      ctx.record("liveness", await read32(device, BAR0, 0x04));
      const map = await device.mapRegion(BAR0, 0n, 0x1000n);
      ctx.defer(() => map.unmap());
      ctx.record("mmap_id", map.read32(0));
      map.write32(4, 0xa5a5a5a5);
      ctx.record("mmap_liveness", map.read32(4));
    },
  },
  {
    id: "edu.factorial",
    title: "edu computes a factorial: write n to 0x08, wait for status bit 0 to clear, read n!",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await write32(device, BAR0, 0x08, 5);
      ctx.record("done", await waitFor(async () => ((await read32(device, BAR0, 0x20)) & 1) === 0));
      ctx.record("5!", await read32(device, BAR0, 0x08));
      await write32(device, BAR0, 0x08, 10);
      await waitFor(async () => ((await read32(device, BAR0, 0x20)) & 1) === 0);
      ctx.record("10!", await read32(device, BAR0, 0x08));
    },
  },
  {
    id: "edu.dma-both-ways",
    title: "DMA RAM → edu → RAM through mapped IOVAs copies the data exactly",
    async run(ctx) {
      const { container, device } = await openDevice(ctx, EDU_ROOT);
      await enableBusMaster(device);
      const m = await mapped(ctx, container, 2);
      m.bytes.set(pattern(2048, 3), 0);
      ctx.record("to_device", await dma(device, IOVA, EDU_BUFFER, 2048, false));
      ctx.record("to_ram", await dma(device, EDU_BUFFER, IOVA + 4096n, 2048, true));
      ctx.record("equal", m.bytes.subarray(4096, 4096 + 2048).every((b, i) => b === m.bytes[i]));
      ctx.record("first_bytes", m.bytes.subarray(4096, 4104));
    },
  },
  {
    id: "edu.dma-unmapped-blocked",
    title: "A DMA to an IOVA that was never mapped writes nothing (the IOMMU blocks it)",
    async run(ctx) {
      const { container, device } = await openDevice(ctx, EDU_ROOT);
      await enableBusMaster(device);
      const m = await mapped(ctx, container, 1);
      m.bytes.set(pattern(1024, 9), 0);
      await dma(device, IOVA, EDU_BUFFER, 1024, false);
      m.bytes.fill(0);
      ctx.record("completed", await dma(device, EDU_BUFFER, 0x800000n, 1024, true));
      ctx.record("untouched", m.bytes.every((b) => b === 0));
      ctx.record("back_to_mapped", await dma(device, EDU_BUFFER, IOVA, 1024, true));
      ctx.record("arrived", m.bytes.subarray(0, 1024).every((b, i) => b === ((i * 7 + 9) & 0xff)));
    },
  },
  {
    id: "edu.dma-read-only-mapping",
    title: "A DMA that writes into a read-only mapping is blocked; reading from it works",
    async run(ctx) {
      const { container, device } = await openDevice(ctx, EDU_ROOT);
      await enableBusMaster(device);
      const m = memory(ctx, 4096);
      m.bytes.set(pattern(512, 5), 0);
      await container.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: m.vaddr, iova: IOVA, size: 4096n });
      ctx.record("read_from_ro", await dma(device, IOVA, EDU_BUFFER, 512, false));
      ctx.record("write_to_ro", await dma(device, EDU_BUFFER, IOVA + 1024n, 512, true));
      ctx.record("ro_untouched", m.bytes.subarray(1024, 1536).every((b) => b === 0));
    },
  },
  {
    id: "edu.dma-without-bus-master",
    title: "Without Bus Master Enable the edu cannot DMA: memory stays untouched",
    async run(ctx) {
      const { container, device } = await openDevice(ctx, EDU_ROOT);
      const m = await mapped(ctx, container, 1);
      ctx.record("command_master", (await read16(device, CONFIG, 0x04)) & 0x4);
      await write32(device, BAR0, 0x04, 0);
      ctx.record("completed", await dma(device, EDU_BUFFER, IOVA, 256, true));
      ctx.record("untouched", m.bytes.every((b) => b === 0));
    },
  },
  {
    id: "edu.msi",
    title: "edu raises an MSI through its eventfd: on the raise register, and at the end of a factorial",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await enableBusMaster(device);
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await device.setIrqs({ flags: EVENTFD | TRIGGER, index: 1, start: 0, count: 1, notifiers: [n] });
      await write32(device, BAR0, 0x60, 0x1);
      ctx.record("after_raise", await c.settle());
      ctx.record("irq_status", await read32(device, BAR0, 0x24));
      await write32(device, BAR0, 0x64, 0x1);
      ctx.record("irq_status_acked", await read32(device, BAR0, 0x24));
      await write32(device, BAR0, 0x20, 0x80);
      await write32(device, BAR0, 0x08, 4);
      await waitFor(async () => ((await read32(device, BAR0, 0x20)) & 1) === 0);
      ctx.record("after_factorial", await c.settle());
      ctx.record("irq_status_factorial", await read32(device, BAR0, 0x24));
      await write32(device, BAR0, 0x64, 0x1);
      await device.setIrqs({ flags: NONE | TRIGGER, index: 1, start: 0, count: 0 });
    },
  },
  {
    id: "edu.msi-without-bus-master",
    title: "An MSI is a memory write: without Bus Master Enable none arrives",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await device.setIrqs({ flags: EVENTFD | TRIGGER, index: 1, start: 0, count: 1, notifiers: [n] });
      await write32(device, BAR0, 0x60, 0x1);
      ctx.record("signals", await c.settle());
      await write32(device, BAR0, 0x64, 0x1);
      await device.setIrqs({ flags: NONE | TRIGGER, index: 1, start: 0, count: 0 });
    },
  },
  {
    id: "edu.intx-automask",
    title: "INTx is automasked: one signal per unmask while the line stays asserted; acked, no more",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_PORT);
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await device.setIrqs({ flags: EVENTFD | TRIGGER, index: 0, start: 0, count: 1, notifiers: [n] });
      await write32(device, BAR0, 0x60, 0x1);
      ctx.record("first", await c.settle());
      await write32(device, BAR0, 0x60, 0x2);
      ctx.record("while_masked", await c.settle());
      await device.setIrqs({ flags: NONE | UNMASK, index: 0, start: 0, count: 1 });
      ctx.record("unmask_still_asserted", await c.settle());
      await write32(device, BAR0, 0x64, 0x3);
      await device.setIrqs({ flags: NONE | UNMASK, index: 0, start: 0, count: 1 });
      ctx.record("unmask_after_ack", await c.settle());
      ctx.record("irq_status", await read32(device, BAR0, 0x24));
      await device.setIrqs({ flags: NONE | TRIGGER, index: 0, start: 0, count: 0 });
    },
  },
  {
    id: "edu.reset-clears-state",
    title: "VFIO_DEVICE_RESET (bus reset behind the root port) returns edu to its power-on state",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_PORT);
      await write32(device, BAR0, 0x04, 0x1);
      await write32(device, BAR0, 0x08, 3);
      await waitFor(async () => ((await read32(device, BAR0, 0x20)) & 1) === 0);
      ctx.record("before", await read32(device, BAR0, 0x08));
      await device.reset();
      ctx.record("factorial_after", await read32(device, BAR0, 0x08));
      ctx.record("liveness_after", await read32(device, BAR0, 0x04));
    },
  },
];

/** The project's edu driver (drivers/edu.ts) over a DmaSpace on the container: the same calls on every backend. */
export const eduDriverScenarios: readonly Scenario[] = [
  {
    id: "edu.driver",
    title: "The edu driver: liveness, factorial, DMA round trip, MSI, and the IOMMU demonstration",
    async run(ctx) {
      const { container, device } = await openDevice(ctx, EDU_ROOT);
      const dma = new ContainerDmaSpace(ctx.system, container, { limit: 1n << 28n });
      ctx.defer(() => dma.close());
      const driver = await EduDriver.open(device, dma);
      ctx.defer(() => driver.close());
      ctx.record("identity", driver.identity);
      ctx.record("completion", driver.completion);
      ctx.record("liveness", (await driver.checkLiveness(0x0badf00d)).read);
      ctx.record("12!", await driver.factorial(12));
      const data = pattern(1000, 11);
      await driver.dmaToDevice(data, 24);
      const back = await driver.dmaFromDevice(1000, 24);
      ctx.record("round_trip", back.every((b, i) => b === data[i]));
      ctx.record("irq_status", await driver.raiseInterrupt(0x40));
      const demo = await driver.demonstrateIommu(0x0800_0000n, 256);
      ctx.record("demo", { writeToMappedDelivered: demo.writeToMappedDelivered, writeToUnmapped: demo.writeToUnmapped, readFromUnmapped: demo.readFromUnmapped, blocked: demo.blocked });
    },
  },
];
