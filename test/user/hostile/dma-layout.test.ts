/**
 * DMA by message to a client that lays DMA_READ/DMA_WRITE out as QEMU does (a u32 count, data
 * at byte 28) or as the spec does (a u64 count, data at 32): told apart by the DMA_READ reply's
 * size, never guessed for a DMA_WRITE.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { VFIO_USER_F_TYPE_REPLY } from "../../../src/abi/vfio-user/header.js";
import { MessageDma } from "../../../src/user/dma-messenger.js";
import type { Message } from "../../../src/user/protocol/message.js";

/** A client's memory and how it answers: QEMU's struct vfio_user_dma_rw or the spec's. */
function client(layout: "qemu" | "spec" | "garbage") {
  const memory = new Uint8Array(4096);
  const writes: number[][] = [];
  const reply = (payload: Uint8Array): Message => ({ header: { msgId: 0, command: 0, msgSize: 16 + payload.byteLength, flags: VFIO_USER_F_TYPE_REPLY, error: 0 }, payload, fds: [] });
  const send = async (command: number, ...parts: Uint8Array[]): Promise<Message> => {
    const body = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) body.set(p, (at += p.byteLength) - p.byteLength);
    const view = new DataView(body.buffer);
    const address = Number(view.getBigUint64(0, true));
    const count = layout === "qemu" ? view.getUint32(8, true) : Number(view.getBigUint64(8, true));
    const dataAt = layout === "qemu" ? 12 : 16;
    if (command === VfioUserCommand.DMA_READ) {
      if (layout === "garbage") return reply(new Uint8Array(3));
      const out = new Uint8Array(dataAt + count);
      out.set(body.subarray(0, dataAt));
      out.set(memory.subarray(address, address + count), dataAt);
      return reply(out);
    }
    const data = body.subarray(dataAt, dataAt + count);
    memory.set(data, address);
    writes.push([...data]);
    return reply(layout === "qemu" ? new Uint8Array(0) : body.subarray(0, 16));
  };
  return { memory, writes, dma: new MessageDma(send, () => 1 << 20) };
}

for (const layout of ["qemu", "spec"] as const) {
  test(`a ${layout}-layout client: reads and writes land where they should`, async () => {
    const c = client(layout);
    c.memory.set([1, 2, 3, 4], 100);
    await c.dma.write(200n, Uint8Array.of(9, 8, 7, 6, 5));
    assert.equal(c.dma.layout, layout);
    assert.deepEqual([...c.memory.subarray(200, 205)], [9, 8, 7, 6, 5]);
    assert.deepEqual(c.writes, [[9, 8, 7, 6, 5]]);
    assert.deepEqual([...(await c.dma.read(100n, 4))], [1, 2, 3, 4]);
  });
}

test("a client whose layout cannot be told: no DMA_WRITE is sent, the error names the fix", async () => {
  const c = client("garbage");
  await assert.rejects(c.dma.write(0n, Uint8Array.of(1)), (e: { code?: string; detail?: string }) => e.code === "EDMAFAULT" && /memory-backend-memfd/.test(e.detail ?? ""));
  assert.deepEqual(c.writes, []);
});
