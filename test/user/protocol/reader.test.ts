import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageReader } from "../../../src/user/protocol/reader.js";
import { encodeCommand } from "../../../src/user/protocol/message.js";

const msg = (id: number, bytes = 4): Uint8Array => encodeCommand(id, 9, false, new Uint8Array(bytes).fill(id));
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

test("messages split anywhere and joined are delivered whole, in order", () => {
  const stream = concat(msg(1), msg(2, 100), msg(3, 0));
  for (let cut = 1; cut < stream.byteLength; cut++) {
    const reader = new MessageReader(1 << 20, () => assert.fail("no fd to close"));
    const out = [...reader.feed(stream.subarray(0, cut), []), ...reader.feed(stream.subarray(cut), [])];
    assert.deepEqual(out.map((m) => [m.header.msgId, m.payload.byteLength]), [[1, 4], [2, 100], [3, 0]], `cut at ${cut}`);
  }
});

test("a read's fds go to the last message that starts in it, even when it ends in a later read", () => {
  const closed: number[] = [];
  const reader = new MessageReader(1 << 20, (fd) => closed.push(fd));
  const a = msg(1);
  const b = msg(2, 64);
  const both = concat(a, b);
  const first = reader.feed(both.subarray(0, a.byteLength + 10), [7, 8]);
  assert.deepEqual(first.map((m) => [m.header.msgId, m.fds]), [[1, []]]);
  const second = reader.feed(both.subarray(a.byteLength + 10), []);
  assert.deepEqual(second.map((m) => [m.header.msgId, m.fds]), [[2, [7, 8]]]);
  assert.deepEqual(closed, []);
});

test("fds that arrive on bytes continuing an earlier message are closed, not given to anyone", () => {
  const closed: number[] = [];
  const reader = new MessageReader(1 << 20, (fd) => closed.push(fd));
  const big = msg(5, 200);
  assert.deepEqual(reader.feed(big.subarray(0, 50), [3]), []);
  const out = reader.feed(big.subarray(50), [4]);
  assert.deepEqual(out.map((m) => m.fds), [[3]]);
  assert.deepEqual(closed, [4]);
});

test("msg_size below the header or above the limit is a framing error (E2BIG field msg_size); dispose closes held fds", () => {
  const closed: number[] = [];
  const reader = new MessageReader(64, (fd) => closed.push(fd));
  assert.throws(() => reader.feed(msg(1, 100), [9]), { code: "EPROTO", field: "msg_size" });
  assert.deepEqual(closed, [9]);
  const r2 = new MessageReader(1 << 20, (fd) => closed.push(fd));
  const header = msg(1);
  new DataView(header.buffer, header.byteOffset).setUint32(4, 8, true);
  assert.throws(() => r2.feed(header, []), { field: "msg_size" });
  const r3 = new MessageReader(1 << 20, (fd) => closed.push(fd));
  r3.feed(msg(2, 40).subarray(0, 20), [11]);
  r3.dispose();
  assert.deepEqual(closed, [9, 11]);
});
