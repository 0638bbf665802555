import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeIommuCaps,
  decodeRegionCaps,
  encodeCapChain,
  encodeIommuCaps,
  encodeRegionCap,
  walkCapChain,
} from "../../src/abi/cap-chain.js";
import { infoCapHeaderLayout } from "../../src/abi/vfio/info-cap.js";
import { iommuInfoLayout } from "../../src/abi/vfio/iommu-info.js";
import { regionInfoLayout } from "../../src/abi/vfio/region-info.js";
import type { RegionCap } from "../../src/api/device-info.js";
import { VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES, VFIO_REGION_INFO_FLAG_CAPS } from "../../src/api/constants.js";

/** A region info reply as the kernel lays it out: the struct, then the chain at sizeof. */
function regionReply(caps: readonly RegionCap[], flags = VFIO_REGION_INFO_FLAG_CAPS): Uint8Array {
  const chain = encodeCapChain(caps.map(encodeRegionCap), regionInfoLayout.size);
  const buffer = new Uint8Array(regionInfoLayout.size + chain.byteLength);
  regionInfoLayout.encode({ argsz: buffer.byteLength, flags, index: 0, capOffset: regionInfoLayout.size, size: 0x4000n }, buffer);
  buffer.set(chain, regionInfoLayout.size);
  return buffer;
}

function source(buffer: Uint8Array) {
  const info = regionInfoLayout.decode(buffer);
  return { buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: regionInfoLayout.size, flags: info.flags };
}

const sampleCaps: RegionCap[] = [
  { id: 1, kind: "sparse-mmap", version: 1, areas: [{ offset: 0n, size: 0x2000n }, { offset: 0x3000n, size: 0x1000n }] },
  { id: 3, kind: "msix-mappable", version: 1 },
  { id: 2, kind: "type", version: 1, type: 1, subtype: 2 },
];

test("encodeRegionCap() + encodeCapChain() then decodeRegionCaps() round-trips every region cap kind", () => {
  assert.deepEqual(decodeRegionCaps(source(regionReply(sampleCaps))), sampleCaps);
});

test("encodeCapChain() lays caps end to end from sizeof(info) with absolute next offsets, as Linux 6.1", () => {
  const buffer = regionReply(sampleCaps);
  // sparse mmap: 16-byte fixed part + 2 × 16-byte areas = 48 bytes at 32; msix at 80; type at 88.
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 32), { id: 1, version: 1, next: 80 });
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 80), { id: 3, version: 1, next: 88 });
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 88), { id: 2, version: 1, next: 0 });
  assert.equal(buffer.byteLength, 104);
});

test("encodeCapChain() with align 8 pads each cap to 8 bytes (kernels after 'vfio: align capability structures')", () => {
  const chain = encodeCapChain([{ id: 3, version: 1, body: new Uint8Array(4) }, { id: 1, version: 1, body: new Uint8Array(0) }], 24, 8);
  assert.equal(chain.byteLength, 24);
  assert.equal(infoCapHeaderLayout.decode(chain, 0).next, 24 + 16);
});

test("decodeRegionCaps() keeps an unknown cap's bytes, header included", () => {
  const raw = new Uint8Array(12);
  infoCapHeaderLayout.encode({ id: 77, version: 4 }, raw);
  raw.set([1, 2, 3, 4], 8);
  const caps = decodeRegionCaps(source(regionReply([{ id: 77, kind: "unknown", version: 4, bytes: raw }])));
  assert.deepEqual(caps, [{ id: 77, kind: "unknown", version: 4, bytes: raw }]);
});

test("decodeRegionCaps() returns no caps without FLAG_CAPS or with cap_offset 0 (chain left out of a short buffer)", () => {
  assert.deepEqual(decodeRegionCaps(source(regionReply(sampleCaps, 0))), []);
  const buffer = regionReply(sampleCaps);
  regionInfoLayout.encode({ ...regionInfoLayout.decode(buffer), capOffset: 0 }, buffer);
  assert.deepEqual(decodeRegionCaps(source(buffer)), []);
});

function expectProtocolError(fn: () => unknown, field: string): void {
  assert.throws(fn, { name: "VfioProtocolError", code: "EPROTO", field, errno: 22 });
}

test("walkCapChain() rejects a chain truncated by the buffer end", () => {
  const buffer = regionReply(sampleCaps);
  expectProtocolError(() => walkCapChain(source(buffer.subarray(0, 84))), "next");
});

test("walkCapChain() rejects a next past argsz even when the buffer is larger", () => {
  const buffer = regionReply(sampleCaps);
  const info = regionInfoLayout.decode(buffer);
  expectProtocolError(() => walkCapChain({ ...source(buffer), argsz: 84 }), "next");
  expectProtocolError(() => walkCapChain({ ...source(buffer), argsz: 36, capOffset: info.capOffset }), "cap_offset");
});

test("walkCapChain() rejects a next that loops back", () => {
  const buffer = regionReply(sampleCaps);
  infoCapHeaderLayout.encode({ id: 2, version: 1, next: 32 }, buffer, 88);
  expectProtocolError(() => walkCapChain(source(buffer)), "next");
  infoCapHeaderLayout.encode({ id: 2, version: 1, next: 88 }, buffer, 88);
  expectProtocolError(() => walkCapChain(source(buffer)), "next");
});

test("walkCapChain() rejects a next pointing back into the info struct", () => {
  const buffer = regionReply(sampleCaps);
  infoCapHeaderLayout.encode({ id: 1, version: 1, next: 8 }, buffer, 32);
  expectProtocolError(() => walkCapChain(source(buffer)), "next");
});

test("walkCapChain() accepts a chain in backward order that does not loop", () => {
  const buffer = regionReply(sampleCaps);
  // 32 → 88 → 80 → end: legal per vfio.h, which says nothing of order.
  infoCapHeaderLayout.encode({ id: 1, version: 1, next: 88 }, buffer, 32);
  infoCapHeaderLayout.encode({ id: 2, version: 1, next: 80 }, buffer, 88);
  infoCapHeaderLayout.encode({ id: 3, version: 1, next: 0 }, buffer, 80);
  assert.deepEqual(walkCapChain(source(buffer)).map((c) => [c.id, c.offset, c.bytes.byteLength]), [[1, 32, 48], [2, 88, 16], [3, 80, 8]]);
});

test("decodeRegionCaps() rejects nr_areas larger than the bytes the cap may occupy", () => {
  const buffer = regionReply(sampleCaps);
  const view = new DataView(buffer.buffer);
  view.setUint32(32 + 8, 3, true); // nr_areas 3, but only 2 areas before the next cap
  expectProtocolError(() => decodeRegionCaps(source(buffer)), "nr_areas");
  view.setUint32(32 + 8, 0xffffffff, true);
  expectProtocolError(() => decodeRegionCaps(source(buffer)), "nr_areas");
});

/** A type1 IOMMU info reply as Linux 6.1's vfio_iommu_type1_get_info builds it. */
function iommuReply(): Uint8Array {
  const chain = encodeCapChain(encodeIommuCaps({
    iovaRanges: [{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: 0xffffffffffffn }],
    dmaAvailable: 65535,
    migration: { flags: 0, pgsizeBitmap: 0x1000n, maxDirtyBitmapSize: 0x8000000n },
  }), iommuInfoLayout.size);
  const buffer = new Uint8Array(iommuInfoLayout.size + chain.byteLength);
  iommuInfoLayout.encode({
    argsz: buffer.byteLength, flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
    iovaPgsizes: 0x40201000n, capOffset: iommuInfoLayout.size,
  }, buffer);
  buffer.set(chain, iommuInfoLayout.size);
  return buffer;
}

test("encodeIommuCaps() orders migration, DMA available, IOVA ranges, unaligned, as Linux 6.1 does", () => {
  const buffer = iommuReply();
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 24), { id: 2, version: 1, next: 56 });
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 56), { id: 3, version: 1, next: 68 });
  assert.deepEqual(infoCapHeaderLayout.decode(buffer, 68), { id: 1, version: 1, next: 0 });
  assert.equal(buffer.byteLength, 68 + 16 + 32);
});

test("decodeIommuCaps() round-trips IOVA ranges, DMA available and migration", () => {
  const buffer = iommuReply();
  const info = iommuInfoLayout.decode(buffer);
  assert.deepEqual(decodeIommuCaps({ buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: iommuInfoLayout.size, flags: info.flags }), {
    iovaRanges: [{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: 0xffffffffffffn }],
    dmaAvailable: 65535,
    migration: { flags: 0, pgsizeBitmap: 0x1000n, maxDirtyBitmapSize: 0x8000000n },
  });
});

test("decodeIommuCaps() rejects nr_iovas past the end and returns {} without VFIO_IOMMU_INFO_CAPS", () => {
  const buffer = iommuReply();
  new DataView(buffer.buffer).setUint32(68 + 8, 3, true);
  const info = iommuInfoLayout.decode(buffer);
  const src = { buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: iommuInfoLayout.size, flags: info.flags };
  expectProtocolError(() => decodeIommuCaps(src), "nr_iovas");
  assert.deepEqual(decodeIommuCaps({ ...src, flags: VFIO_IOMMU_INFO_PGSIZES }), {});
});
