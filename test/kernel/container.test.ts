// Guest tests of KernelContainer against Linux 6.1's VFIO (skipped outside the test guest).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VFIO_API_VERSION, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES,
  VFIO_NOIOMMU_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU,
} from "../../src/api/constants.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { EDU, groupOf, open, skip } from "./guest.js";

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

test("the container reports API version 0 and type1/type1v2, not no-IOMMU (Debian's 6.1 has no NOIOMMU)", { skip }, async (t) => {
  const system = new KernelSystem();
  t.after(() => system.close());
  const container = await system.openContainer();
  assert.equal(await container.apiVersion(), VFIO_API_VERSION);
  assert.equal(await container.checkExtension(VFIO_TYPE1v2_IOMMU), 1);
  assert.equal(await container.checkExtension(VFIO_TYPE1_IOMMU), 1);
  assert.equal(await container.checkExtension(VFIO_NOIOMMU_IOMMU), 0);
});

test("misuse before a group joins: SET_IOMMU, GET_INFO and MAP_DMA are EINVAL", { skip }, async (t) => {
  const system = new KernelSystem();
  t.after(() => system.close());
  const container = await system.openContainer();
  await assert.rejects(container.setIommu(VFIO_TYPE1v2_IOMMU), { code: "EINVAL", op: "VFIO_SET_IOMMU" });
  await assert.rejects(container.iommuInfo(), { code: "EINVAL", op: "VFIO_IOMMU_GET_INFO" });
  const memory = system.allocateMemory(4096);
  await assert.rejects(container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0x100000n, size: 4096n }), { code: "EINVAL", op: "VFIO_IOMMU_MAP_DMA" });
});

test("MAP_DMA and UNMAP_DMA before SET_IOMMU (group attached) are EINVAL, with the missing step in the hint", { skip }, async (t) => {
  const system = new KernelSystem();
  t.after(() => system.close());
  const container = await system.openContainer();
  const group = await system.openGroup(groupOf(EDU));
  await group.setContainer(container);
  const memory = system.allocateMemory(4096);
  await assert.rejects(container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0x100000n, size: 4096n }), (e: { code: string; hint?: string }) => {
    assert.equal(e.code, "EINVAL");
    assert.match(e.hint ?? "", /VFIO_SET_IOMMU/);
    return true;
  });
  await assert.rejects(container.unmapDma({ flags: 0, iova: 0x100000n, size: 4096n }), { code: "EINVAL" });
  await container.setIommu(VFIO_TYPE1v2_IOMMU);
  await assert.rejects(container.setIommu(VFIO_TYPE1v2_IOMMU), { code: "EINVAL" });
});

test("IOMMU info: 4 KiB pages, the x86 MSI window excluded from the IOVA ranges, 65535 mappings available", { skip }, async (t) => {
  const { container } = await open(t);
  const info = await container.iommuInfo();
  assert.equal(info.flags & (VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS), VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  assert.equal(info.iovaPgsizes & 0x1000n, 0x1000n);
  assert.ok(info.iovaRanges && info.iovaRanges.length >= 2);
  assert.equal(info.iovaRanges[0]!.start, 0n);
  assert.equal(info.iovaRanges[0]!.end, 0xfedfffffn);
  assert.equal(info.iovaRanges[1]!.start, 0xfef00000n);
  assert.equal(info.dmaAvailable, 65535);
});

test("map, overlap (EEXIST), unmap of nothing (size 0), partial unmap (EINVAL), whole unmap; DMA_AVAIL follows", { skip }, async (t) => {
  const { container, system } = await open(t);
  const memory = system.allocateMemory(8192);
  await container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0x100000n, size: 8192n });
  assert.equal((await container.iommuInfo()).dmaAvailable, 65534);
  await assert.rejects(container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0x101000n, size: 4096n }), { code: "EEXIST", op: "VFIO_IOMMU_MAP_DMA" });
  assert.equal(await container.unmapDma({ flags: 0, iova: 0x900000n, size: 4096n }), 0n);
  await assert.rejects(container.unmapDma({ flags: 0, iova: 0x100000n, size: 4096n }), { code: "EINVAL" });
  assert.equal(await container.unmapDma({ flags: 0, iova: 0x100000n, size: 8192n }), 8192n);
  assert.equal((await container.iommuInfo()).dmaAvailable, 65535);
});

test("MAP_DMA refuses a vaddr that is not mapped (EFAULT), no permission flags (EINVAL), and the MSI window (EINVAL)", { skip }, async (t) => {
  const { container, system } = await open(t);
  const memory = system.allocateMemory(4096);
  await assert.rejects(container.mapDma({ flags: RW, vaddr: 0x1000n, iova: 0x100000n, size: 4096n }), { code: "EFAULT" });
  await assert.rejects(container.mapDma({ flags: 0, vaddr: memory.vaddr, iova: 0x100000n, size: 4096n }), { code: "EINVAL" });
  await assert.rejects(container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0xfee00000n, size: 4096n }), { code: "EINVAL" });
  await assert.rejects(container.mapDma({ flags: RW, vaddr: memory.vaddr + 8n, iova: 0x100000n, size: 4096n }), { code: "EINVAL" });
});

test("DMA mappings pin pages: VmLck grows by the mapped size and shrinks on unmap", { skip }, async (t) => {
  const { container, system } = await open(t);
  const { lockedBytes } = await import("./guest.js");
  const memory = system.allocateMemory(64 * 4096);
  const before = lockedBytes();
  await container.mapDma({ flags: RW, vaddr: memory.vaddr, iova: 0x200000n, size: BigInt(memory.size) });
  assert.equal(lockedBytes() - before, BigInt(memory.size));
  await container.unmapDma({ flags: 0, iova: 0x200000n, size: BigInt(memory.size) });
  assert.equal(lockedBytes(), before);
});
