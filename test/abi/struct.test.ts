import { test } from "node:test";
import assert from "node:assert/strict";
import { struct, u8, u16, u32, u64, bytes } from "../../src/abi/struct.js";

test("struct() aligns fields naturally and pads the size to the widest field", () => {
  const layout = struct("t", { a: u8, b: u32, c: u16, d: u64, e: u8 });
  assert.deepEqual(layout.offsets, { a: 0, b: 4, c: 8, d: 16, e: 24 });
  assert.equal(layout.size, 32);
  assert.equal(layout.align, 8);
});

test("struct() with packed lays fields end to end", () => {
  const layout = struct("t", { a: u16, b: u64, c: u32 }, { packed: true });
  assert.deepEqual(layout.offsets, { a: 0, b: 2, c: 10 });
  assert.equal(layout.size, 14);
});

test("encode() then decode() round-trips every kind, little-endian, at an offset", () => {
  const layout = struct("t", { a: u8, b: u16, c: u32, d: u64, e: bytes(3) });
  const buf = new Uint8Array(layout.size + 5);
  layout.encode({ a: 0xab, b: 0x1234, c: 0xdeadbeef, d: 0xfedcba9876543210n, e: Uint8Array.of(1, 2, 3) }, buf, 5);
  assert.equal(buf[5 + layout.offsets.b], 0x34);
  assert.deepEqual(layout.decode(buf, 5), {
    a: 0xab, b: 0x1234, c: 0xdeadbeef, d: 0xfedcba9876543210n, e: Uint8Array.of(1, 2, 3),
  });
});

test("encode() writes missing fields as zero", () => {
  const layout = struct("t", { a: u32, b: u32 });
  const buf = new Uint8Array(8).fill(0xff);
  layout.encode({ b: 7 }, buf);
  assert.deepEqual(layout.decode(buf), { a: 0, b: 7 });
});

test("decode() throws RangeError on a short buffer", () => {
  const layout = struct("t", { a: u64 });
  assert.throws(() => layout.decode(new Uint8Array(7)), RangeError);
  assert.throws(() => layout.decode(new Uint8Array(8), 1), RangeError);
});

test("struct() names C members in snake_case unless cNames says otherwise", () => {
  const layout = struct("t", { id: u16, numRegions: u32, capOffset: u32 }, { cNames: { id: "header.id" } });
  assert.deepEqual(layout.cFields, { id: "header.id", numRegions: "num_regions", capOffset: "cap_offset" });
});
