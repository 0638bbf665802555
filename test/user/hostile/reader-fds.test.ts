/**
 * The fds of a message that arrived whole are not lost when the read that completed it also
 * brings a header the stream cannot survive.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { vfioUserHeaderLayout } from "../../../src/abi/vfio-user/header.js";
import { MessageReader } from "../../../src/user/protocol/reader.js";
import { encodeCommand } from "../../../src/user/protocol/message.js";

test("a message split over two reads, then a bad header: every fd is closed", () => {
  const closed: number[] = [];
  const reader = new MessageReader(1 << 20, (fd) => closed.push(fd));
  const message = encodeCommand(1, 3, false, new Uint8Array(200));
  const fds = Array.from({ length: 253 }, (_, i) => 1000 + i);
  assert.deepEqual(reader.feed(message.subarray(0, 100), fds), []);
  const bad = vfioUserHeaderLayout.encode({ msgId: 2, command: 3, msgSize: 0xffff_ffff, flags: 0, error: 0 });
  const rest = new Uint8Array(message.byteLength - 100 + bad.byteLength);
  rest.set(message.subarray(100));
  rest.set(bad, message.byteLength - 100);
  assert.throws(() => reader.feed(rest, []), (e: { errno?: number }) => e.errno === 7);
  assert.deepEqual(closed.sort((a, b) => a - b), fds);
  reader.dispose();
  assert.equal(closed.length, 253);
});

test("a 1 MiB message fed in 64-byte pieces is copied once, not once per piece", () => {
  const reader = new MessageReader(2 << 20, () => undefined);
  const message = encodeCommand(1, 9, false, new Uint8Array(1 << 20).fill(7));
  let got = 0;
  for (let at = 0; at < message.byteLength; at += 64) {
    for (const m of reader.feed(message.subarray(at, Math.min(at + 64, message.byteLength)), [])) {
      got++;
      assert.equal(m.payload.byteLength, 1 << 20);
      assert.equal(m.payload[12345], 7);
    }
  }
  assert.equal(got, 1);
  assert.ok(reader.copiedBytes <= 2 * message.byteLength, `${reader.copiedBytes} bytes copied for a ${message.byteLength}-byte message`);
});
