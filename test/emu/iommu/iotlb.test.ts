import { test } from "node:test";
import assert from "node:assert/strict";
import { Iotlb } from "../../../src/emu/iommu/iotlb.js";

const entry = { bytes: new Uint8Array(4096), base: 0, read: true, write: false };

test("counts hits and misses, evicts the oldest entry at capacity", () => {
  const tlb = new Iotlb(2);
  assert.equal(tlb.lookup(1), undefined);
  tlb.insert(1, entry);
  tlb.insert(2, entry);
  assert.equal(tlb.lookup(1), entry);
  tlb.insert(3, entry);
  assert.equal(tlb.lookup(1), undefined);
  assert.equal(tlb.lookup(3), entry);
  assert.deepEqual([tlb.hits, tlb.misses], [2, 2]);
});

test("invalidate drops exactly the pages of a range", () => {
  const tlb = new Iotlb(16);
  for (let p = 0; p < 8; p++) tlb.insert(p, entry);
  tlb.invalidate(2, 3);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((p) => tlb.lookup(p) !== undefined), [true, true, false, false, false, true]);
});
