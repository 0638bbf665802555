import { test } from "node:test";
import assert from "node:assert/strict";
import { Type1Iommu, subtractRanges, type1CheckExtension } from "../../../src/emu/vfio/type1.js";
import { ProcessAddressSpace } from "../../../src/emu/process/address-space.js";
import { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UPDATE_VADDR, VFIO_DMA_CC_IOMMU } from "../../../src/api/constants.js";

const hardware = {
  pgsizeBitmap: (1n << 12n) | (1n << 21n),
  apertureEnd: (1n << 39n) - 1n,
  reserved: [{ start: 0xfee00000n, end: 0xfeefffffn }],
  enforceCacheCoherency: false,
  pageSize: 4096,
};
const RW = 3;

function setup(type = VFIO_TYPE1v2_IOMMU, limit = 65535) {
  const memory = new ProcessAddressSpace();
  const mem = memory.allocate(16 * 4096);
  return { iommu: new Type1Iommu(type, hardware, memory, limit), mem, memory };
}

test("IOVA ranges are the aperture minus the reserved MSI window", () => {
  assert.deepEqual(subtractRanges({ start: 0n, end: 0xffffn }, [{ start: 0x1000n, end: 0x1fffn }, { start: 0xf000n, end: 0xffffn }]), [
    { start: 0n, end: 0xfffn }, { start: 0x2000n, end: 0xefffn },
  ]);
  assert.deepEqual(setup().iommu.iovaRanges, [{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: (1n << 39n) - 1n }]);
});

test("map errnos: EINVAL for alignment, EEXIST for overlap, EFAULT for unmapped vaddr, ENOSPC at the limit", () => {
  const { iommu, mem } = setup(VFIO_TYPE1v2_IOMMU, 2);
  const code = (f: () => void) => { try { f(); return "ok"; } catch (e) { return (e as { code: string }).code; } };
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x1000n, size: 0x800n })), "EINVAL");
  assert.equal(code(() => iommu.map({ flags: 0, vaddr: mem.vaddr, iova: 0x1000n, size: 0x1000n })), "EINVAL");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: 0x1000n, iova: 0x1000n, size: 0x1000n })), "EFAULT");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x1000n, size: 0x2000n })), "ok");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x2000n, size: 0x1000n })), "EEXIST");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0xfee00000n, size: 0x1000n })), "EINVAL");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x10000n, size: 0x1000n })), "ok");
  assert.equal(code(() => iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x20000n, size: 0x1000n })), "ENOSPC");
  assert.equal(iommu.info().dmaAvailable, 0);
});

test("v2 unmap refuses to bisect; v1 unmaps whole mappings whose first page is covered", () => {
  const v2 = setup();
  v2.iommu.map({ flags: RW, vaddr: v2.mem.vaddr, iova: 0x10000n, size: 0x4000n });
  assert.throws(() => v2.iommu.unmap({ flags: 0, iova: 0x10000n, size: 0x1000n }), { code: "EINVAL" });
  assert.equal(v2.iommu.unmap({ flags: 0, iova: 0x0n, size: 0x100000n }), 0x4000n);
  const v1 = setup(VFIO_TYPE1_IOMMU);
  v1.iommu.map({ flags: RW, vaddr: v1.mem.vaddr, iova: 0x10000n, size: 0x4000n });
  assert.equal(v1.iommu.unmap({ flags: 0, iova: 0x11000n, size: 0x1000n }), 0n);
  assert.equal(v1.iommu.unmap({ flags: 0, iova: 0x10000n, size: 0x1000n }), 0x4000n);
});

test("unmap flushes the IOTLB: a translation cached before the unmap no longer resolves", () => {
  const { iommu, mem } = setup();
  mem.bytes[0x10] = 0x5a;
  iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x40000n, size: 0x1000n });
  const hit = iommu.domain.translate(0x40010, "read");
  assert.ok(hit.ok && hit.page[hit.offset] === 0x5a);
  assert.equal(iommu.domain.iotlb.size, 1);
  iommu.unmap({ flags: 0, iova: 0x40000n, size: 0x1000n });
  assert.equal(iommu.domain.iotlb.size, 0);
  assert.deepEqual(iommu.domain.translate(0x40010, "read"), { ok: false, reason: "not-mapped" });
});

test("pinned memory stays reachable by the device after the process frees it (as pinned pages do)", () => {
  const { iommu, mem } = setup();
  iommu.map({ flags: RW, vaddr: mem.vaddr, iova: 0x40000n, size: 0x1000n });
  mem.free();
  const t = iommu.domain.translate(0x40000, "write");
  assert.equal(t.ok, true);
});

test("extensions: UPDATE_VADDR and DMA_CC need an open type1; the domain does not enforce coherency", () => {
  assert.equal(type1CheckExtension(VFIO_UPDATE_VADDR, undefined), 0);
  const { iommu } = setup();
  assert.equal(type1CheckExtension(VFIO_UPDATE_VADDR, iommu), 1);
  assert.equal(type1CheckExtension(VFIO_DMA_CC_IOMMU, iommu), 0);
});
