import { test } from "node:test";
import assert from "node:assert/strict";
import { layoutBars } from "../../../src/devices/pci/bar.js";

test("a 1 MiB 32-bit memory BAR has type bits 0 and size mask 0xfff00000", () => {
  const [bar] = layoutBars([{ size: 1n << 20n, kind: "memory32", prefetchable: false }]);
  assert.equal(bar!.typeBits, 0);
  assert.equal(bar!.lowMask, 0xfff00000);
  assert.equal(bar!.highMask, undefined);
});

test("a 64-bit prefetchable BAR takes two registers and masks both", () => {
  const slots = layoutBars([{ size: 1n << 33n, kind: "memory64", prefetchable: true }, undefined, { size: 256n, kind: "io", prefetchable: false }]);
  assert.equal(slots.length, 2);
  assert.equal(slots[0]!.typeBits, 0x0c);
  assert.equal(slots[0]!.lowMask, 0);
  assert.equal(slots[0]!.highMask, 0xfffffffe);
  assert.equal(slots[1]!.index, 2);
  assert.equal(slots[1]!.typeBits, 0x01);
  assert.equal(slots[1]!.lowMask, 0xffffff00);
});

test("layoutBars refuses sizes that are not powers of two, too small, or misplaced 64-bit BARs", () => {
  assert.throws(() => layoutBars([{ size: 3000n, kind: "memory32", prefetchable: false }]), RangeError);
  assert.throws(() => layoutBars([{ size: 8n, kind: "memory32", prefetchable: false }]), RangeError);
  assert.throws(() => layoutBars([{ size: 2n, kind: "io", prefetchable: false }]), RangeError);
  assert.throws(() => layoutBars([undefined, undefined, undefined, undefined, undefined, { size: 4096n, kind: "memory64", prefetchable: false }]), RangeError);
  assert.throws(
    () => layoutBars([{ size: 4096n, kind: "memory64", prefetchable: false }, { size: 4096n, kind: "memory32", prefetchable: false }]),
    RangeError,
  );
  assert.throws(() => layoutBars(new Array(7).fill(undefined)), RangeError);
});
