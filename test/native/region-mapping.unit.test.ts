import { test } from "node:test";
import assert from "node:assert/strict";
import { loadLibc, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/native/libc.js";
import { allocateMemfd } from "../../src/native/process-memory.js";
import { MmapRegionMapping } from "../../src/native/region-mapping.js";

/** A second mapping of a memfd stands in for a BAR: the same mmap path, observable through the first. */
function mapping(t: { after(fn: () => void): void }, size = 4096) {
  const libc = loadLibc();
  const backing = allocateMemfd(libc, size);
  const address = libc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, backing.fd!, 0n);
  assert.ok(address > 0n);
  const region = new MmapRegionMapping(libc, 0, 0n, size, address);
  t.after(() => {
    region.unmap();
    backing.free();
  });
  return { region, backing };
}

test("accessors read and write little-endian at every width, visible to the other mapping", (t) => {
  const { region, backing } = mapping(t);
  region.write32(0x10, 0xdeadbeef);
  assert.deepEqual([...backing.bytes.subarray(0x10, 0x14)], [0xef, 0xbe, 0xad, 0xde]);
  assert.equal(region.read16(0x12), 0xdead);
  assert.equal(region.read8(0x13), 0xde);
  region.write64(0x18, 0x0123456789abcdefn);
  assert.equal(region.read64(0x18), 0x0123456789abcdefn);
  assert.equal(region.read32(0x1c), 0x01234567);
  region.write16(0x20, 0xbeef);
  region.write8(0x22, 0x7f);
  assert.equal(region.read32(0x20), 0x007fbeef);
  assert.equal(region.bytes[0x20], 0xef);
});

test("misaligned and out-of-range accesses throw RangeError", (t) => {
  const { region } = mapping(t);
  assert.throws(() => region.read32(2), RangeError);
  assert.throws(() => region.write16(1, 0), RangeError);
  assert.throws(() => region.read64(4), RangeError);
  assert.throws(() => region.read32(4096), RangeError);
  assert.throws(() => region.write8(4096, 0), RangeError);
  assert.throws(() => region.write32(-4, 0), RangeError);
  assert.throws(() => region.read8(-1), RangeError);
});

test("an offset past 2^32 or with a fraction throws instead of wrapping onto a register in range", (t) => {
  const { region } = mapping(t);
  region.write32(4, 0x11223344);
  const wraps = 2 ** 32 + 4;
  for (const offset of [wraps, 4.5, 2 ** 53, NaN]) {
    assert.throws(() => region.read32(offset), RangeError, `read32(${offset})`);
    assert.throws(() => region.write32(offset, 0), RangeError, `write32(${offset})`);
    assert.throws(() => region.read16(offset), RangeError, `read16(${offset})`);
    assert.throws(() => region.write16(offset, 0), RangeError, `write16(${offset})`);
    assert.throws(() => region.read64(offset), RangeError, `read64(${offset})`);
    assert.throws(() => region.write64(offset, 0n), RangeError, `write64(${offset})`);
    assert.throws(() => region.read8(offset), RangeError, `read8(${offset})`);
    assert.throws(() => region.write8(offset, 0), RangeError, `write8(${offset})`);
  }
  assert.equal(region.read32(4), 0x11223344);
});

test("after unmap() every access throws, bytes is empty, stale views are harmless, unmap is idempotent", (t) => {
  const { region, backing } = mapping(t);
  const stale = region.bytes;
  region.write32(0, 7);
  region.unmap();
  region.unmap();
  assert.equal(region.mapped, false);
  assert.throws(() => region.read32(0), { code: "EFAULT" });
  assert.throws(() => region.write32(0, 1), { code: "EFAULT" });
  assert.equal(region.bytes.byteLength, 0);
  assert.equal(stale[0], 0);
  stale[0] = 9;
  // The placeholder is private: the backing memory keeps what was there.
  assert.equal(backing.bytes[0], 7);
});

test("a read-only mapping (a region without the WRITE flag) refuses stores instead of faulting", (t) => {
  const libc = loadLibc();
  const backing = allocateMemfd(libc, 4096);
  backing.bytes[0] = 0x2a;
  const address = libc.mmap(4096, PROT_READ, MAP_SHARED, backing.fd!, 0n);
  const region = new MmapRegionMapping(libc, 0, 0n, 4096, address, undefined, false);
  t.after(() => {
    region.unmap();
    backing.free();
  });
  assert.equal(region.read8(0), 0x2a);
  assert.equal(region.read32(0), 0x2a);
  for (const write of [() => region.write8(0, 1), () => region.write16(0, 1), () => region.write32(0, 1), () => region.write64(0, 1n)]) {
    assert.throws(write, /read-only/);
  }
});
