import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
} from "../../src/api/constants.js";
import { EDU_DMA_BUFFER_ADDRESS, EDU_DMA_IRQ, EDU_DMA_RUN, EDU_DMA_TO_RAM, EDU_ID, EduRegister } from "../../src/devices/edu.js";
import type { VfioUserClient } from "../../src/user/client.js";
import { loopback } from "./loopback.js";

const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
const u64 = (v: bigint): Uint8Array => new Uint8Array(new BigUint64Array([v]).buffer);
const read32 = async (c: VfioUserClient, off: number): Promise<number> => new DataView((await c.read(0, BigInt(off), 4)).buffer).getUint32(0, true);

async function enable(client: VfioUserClient): Promise<void> {
  await client.write(VFIO_PCI_CONFIG_REGION_INDEX, BigInt(PCI_COMMAND), new Uint8Array([PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0]));
}

async function dmaRoundTrip(client: VfioUserClient, withMsi: boolean): Promise<void> {
  await enable(client);
  const notifier = client.createNotifier();
  try {
    if (withMsi) {
      await client.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] });
    }
    const buffer = await client.allocate(4096, { limit: 1n << 28n });
    buffer.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    // RAM → device buffer.
    await client.write(0, BigInt(EduRegister.dmaSource), u64(buffer.iova));
    await client.write(0, BigInt(EduRegister.dmaDestination), u64(EDU_DMA_BUFFER_ADDRESS));
    await client.write(0, BigInt(EduRegister.dmaCount), u64(8n));
    await client.write(0, BigInt(EduRegister.dmaCommand), u64(BigInt(EDU_DMA_RUN | (withMsi ? EDU_DMA_IRQ : 0))));
    if (withMsi) assert.equal(await notifier.next(), 1n);
    else while ((await read32(client, EduRegister.dmaCommand)) & EDU_DMA_RUN) await new Promise((r) => setImmediate(r));
    await client.write(0, BigInt(EduRegister.irqAck), u32(0x100));
    // Device buffer → RAM at another offset.
    await client.write(0, BigInt(EduRegister.dmaSource), u64(EDU_DMA_BUFFER_ADDRESS));
    await client.write(0, BigInt(EduRegister.dmaDestination), u64(buffer.iova + 256n));
    await client.write(0, BigInt(EduRegister.dmaCommand), u64(BigInt(EDU_DMA_RUN | EDU_DMA_TO_RAM | (withMsi ? EDU_DMA_IRQ : 0))));
    if (withMsi) assert.equal(await notifier.next(), 1n);
    else while ((await read32(client, EduRegister.dmaCommand)) & EDU_DMA_RUN) await new Promise((r) => setImmediate(r));
    assert.deepEqual([...buffer.bytes.subarray(256, 264)], [1, 2, 3, 4, 5, 6, 7, 8]);
    await buffer.free();
  } finally {
    notifier.close();
  }
}

test("edu over vfio-user with fds: identity, liveness, factorial", async (t) => {
  const { client } = await loopback(t);
  assert.equal(client.canPassFds, true);
  assert.equal(client.twinSocket, true);
  assert.equal(await read32(client, EduRegister.id), EDU_ID);
  await client.write(0, BigInt(EduRegister.liveness), u32(0x12345678));
  assert.equal(await read32(client, EduRegister.liveness), ~0x12345678 >>> 0);
  await client.write(0, BigInt(EduRegister.factorial), u32(10));
  while ((await read32(client, EduRegister.status)) & 1) await new Promise((r) => setImmediate(r));
  assert.equal(await read32(client, EduRegister.factorial), 3628800);
});

test("edu DMA through memfd windows the server maps, completion by MSI eventfd", async (t) => {
  const { client, server } = await loopback(t);
  await dmaRoundTrip(client, true);
  assert.equal(server.session?.dma.count, 0);
});

test("edu DMA through DMA_READ/DMA_WRITE messages when the transport passes no fds", async (t) => {
  const { client } = await loopback(t, { fds: false });
  assert.equal(client.canPassFds, false);
  await dmaRoundTrip(client, false);
});

test("edu DMA through DMA_READ/DMA_WRITE on the twin socket when the client keeps its memory private", async (t) => {
  const { client, server } = await loopback(t, { client: { dmaFds: false } });
  assert.equal(client.twinSocket, true);
  await dmaRoundTrip(client, true);
  assert.equal(server.session?.dma.count, 0);
});

test("edu DMA through messages on the main socket when twin-socket mode is declined", async (t) => {
  const { client } = await loopback(t, { client: { twinSocket: false, dmaFds: false } });
  assert.equal(client.twinSocket, false);
  await dmaRoundTrip(client, true);
});
