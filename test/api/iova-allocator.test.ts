import { test } from "node:test";
import assert from "node:assert/strict";
import { IovaAllocator } from "../../src/api/iova-allocator.js";

const page = 4096n;
// Linux 6.1 on x86 with intel-iommu reports these usable ranges (MSI window excluded).
const x86 = [
  { start: 0n, end: 0xfedfffffn },
  { start: 0xfef00000n, end: 0xffffffffffffn },
];

test("allocations are first-fit, page-aligned, skip IOVA 0, and do not overlap", () => {
  const a = new IovaAllocator(x86, page);
  assert.equal(a.allocate(page), 0x1000n);
  assert.equal(a.allocate(3n * page), 0x2000n);
  assert.equal(a.allocate(page), 0x5000n);
  assert.equal(a.count, 3);
  assert.equal(a.allocated, 5n * page);
});

test("released space is reused", () => {
  const a = new IovaAllocator(x86, page);
  const first = a.allocate(2n * page);
  a.allocate(page);
  assert.equal(a.release(first), true);
  assert.equal(a.release(first), false);
  assert.equal(a.allocate(page), first);
});

test("the limit (a device's DMA mask) is honoured, and exhaustion is ENOSPC", () => {
  const a = new IovaAllocator(x86, page);
  const limit = 0x4000n;
  assert.equal(a.allocate(page, { limit }), 0x1000n);
  assert.equal(a.allocate(2n * page, { limit }), 0x2000n);
  assert.throws(() => a.allocate(page, { limit }), { code: "ENOSPC" });
  assert.ok(a.allocate(page, { limit: 1n << 28n }) < 1n << 28n);
});

test("an allocation never straddles an excluded window", () => {
  const a = new IovaAllocator(x86, page);
  const iova = a.allocate(0x100000n, { iova: 0xfed00000n });
  assert.equal(iova, 0xfed00000n);
  // 3 MiB does not fit below 2 MiB: it goes to the second range rather than across the hole.
  const big = new IovaAllocator([{ start: 0n, end: 0x1fffffn }, { start: 0x400000n, end: 0x7fffffn }], page);
  assert.equal(big.allocate(0x300000n), 0x400000n);
});

test("alignment is honoured", () => {
  const a = new IovaAllocator(x86, page);
  a.allocate(page);
  assert.equal(a.allocate(0x200000n, { align: 0x200000n }), 0x200000n);
});

test("a fixed IOVA is reserved as given or refused as VFIO_IOMMU_MAP_DMA would refuse it", () => {
  const a = new IovaAllocator(x86, page);
  assert.equal(a.allocate(page, { iova: 0x10000n }), 0x10000n);
  assert.throws(() => a.allocate(page, { iova: 0x10000n }), { code: "EEXIST" });
  assert.throws(() => a.allocate(2n * page, { iova: 0xf000n }), { code: "EEXIST" });
  assert.throws(() => a.allocate(page, { iova: 0x10800n }), { code: "EINVAL" });
  assert.throws(() => a.allocate(page, { iova: 0xfee00000n }), { code: "EINVAL" });
  assert.throws(() => a.allocate(page, { iova: 0x10000000n, limit: 1n << 28n }), { code: "EINVAL" });
  assert.throws(() => a.allocate(100n), { code: "EINVAL" });
});
