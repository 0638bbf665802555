import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { regionAccessLayout, writeMultiEntryLayout, writeMultiLayout } from "../../../src/abi/vfio-user/messages.js";
import { EDU_ID } from "../../../src/devices/edu.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const access = (region: number, offset: bigint, count: number): Uint8Array => regionAccessLayout.encode({ offset, region, count });
const le32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);

test("REGION_READ echoes the prefix and appends count bytes; REGION_WRITE echoes the prefix only", async (t) => {
  const peer = await rawPeer(t);
  const read = await peer.request(VfioUserCommand.REGION_READ, [access(0, 0n, 4)]);
  assert.equal(read.payload.byteLength, 20);
  assert.deepEqual(regionAccessLayout.decode(read.payload), { offset: 0n, region: 0, count: 4 });
  assert.equal(new DataView(read.payload.buffer, read.payload.byteOffset + 16).getUint32(0, true), EDU_ID);
  const write = await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 4n, 4), le32(0x0f0f0f0f)]);
  assert.equal(write.payload.byteLength, 16);
  const back = await peer.request(VfioUserCommand.REGION_READ, [access(0, 4n, 4)]);
  assert.deepEqual([...back.payload.subarray(16)], [0xf0, 0xf0, 0xf0, 0xf0]);
});

test("region I/O past the end, in an unused region, or larger than max_data_xfer_size is EINVAL; count 0 succeeds", async (t) => {
  const peer = await rawPeer(t);
  const bad = [access(0, 1n << 20n, 4), access(0, (1n << 20n) - 2n, 4), access(7, 0n, 257), access(3, 0n, 4), access(9, 0n, 4), access(0, 0xffff_ffff_ffff_fffcn, 8), access(0, 0n, (1 << 20) + 1)];
  for (const payload of bad) assert.equal(errnoOf(await peer.request(VfioUserCommand.REGION_READ, [payload])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.REGION_READ, [access(0, 0n, 0)])), 0);
  // A write whose count disagrees with the data it carries.
  assert.equal(errnoOf(await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 4n, 8), le32(1)])), 22);
  // A read carrying data.
  assert.equal(errnoOf(await peer.request(VfioUserCommand.REGION_READ, [access(0, 4n, 4), le32(1)])), 22);
});

test("config space writes go through the write masks: the vendor ID stays, Command takes memory+master", async (t) => {
  const peer = await rawPeer(t);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 0n, 2), new Uint8Array([0, 0])]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 4n, 2), new Uint8Array([6, 0])]);
  const r = await peer.request(VfioUserCommand.REGION_READ, [access(7, 0n, 8)]);
  assert.deepEqual([...r.payload.subarray(16, 22)], [0x34, 0x12, 0xe8, 0x11, 6, 0]);
});

test("REGION_WRITE_MULTI applies every write, or none when one is bad", async (t) => {
  const peer = await rawPeer(t);
  const entry = (offset: bigint, value: number, region = 0, count = 4): Uint8Array =>
    writeMultiEntryLayout.encode({ offset, region, count, data: le32(value) });
  const ok = await peer.request(VfioUserCommand.REGION_WRITE_MULTI, [writeMultiLayout.encode({ wrCnt: 2n }), entry(4n, 1), entry(0x20n, 0x80)]);
  assert.equal(errnoOf(ok), 0);
  assert.equal(writeMultiLayout.decode(ok.payload).wrCnt, 2n);
  const bad = await peer.request(VfioUserCommand.REGION_WRITE_MULTI, [writeMultiLayout.encode({ wrCnt: 2n }), entry(4n, 2), entry(0n, 1, 0, 9)]);
  assert.equal(errnoOf(bad), 22);
  const live = await peer.request(VfioUserCommand.REGION_READ, [access(0, 4n, 4)]);
  assert.equal(new DataView(live.payload.buffer, live.payload.byteOffset + 16).getUint32(0, true), ~1 >>> 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.REGION_WRITE_MULTI, [writeMultiLayout.encode({ wrCnt: 3n }), entry(4n, 2)])), 22);
});

test("DEVICE_RESET returns edu to power-on; with a payload it is EINVAL", async (t) => {
  const peer = await rawPeer(t);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 4n, 4), le32(0)]);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_RESET)), 0);
  const live = await peer.request(VfioUserCommand.REGION_READ, [access(0, 4n, 4)]);
  assert.deepEqual([...live.payload.subarray(16)], [0, 0, 0, 0]);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_RESET, [new Uint8Array(4)])), 22);
});

test("an unknown command and a server-to-client command sent by the client are EINVAL; NO_REPLY gets no reply", async (t) => {
  const peer = await rawPeer(t);
  assert.equal(errnoOf(await peer.request(99)), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_READ, [new Uint8Array(16)])), 22);
  peer.send(VfioUserCommand.REGION_WRITE, [access(0, 4n, 4), le32(5)], [], 0x10);
  const next = await peer.request(VfioUserCommand.REGION_READ, [access(0, 4n, 4)]);
  assert.equal(new DataView(next.payload.buffer, next.payload.byteOffset + 16).getUint32(0, true), ~5 >>> 0);
});
