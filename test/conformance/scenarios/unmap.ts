/** VFIO_IOMMU_UNMAP_DMA scenarios: type1v2's whole-mapping rule, unmap-all, v1's compatibility rules. */
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_TYPE1_IOMMU } from "../../../src/api/constants.js";
import type { Container } from "../../../src/api/container.js";
import { EDU_ROOT, containerWith, memory } from "../fixture.js";
import type { Scenario, ScenarioContext } from "../scenario.js";

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
const PAGE = 4096n;
const ALL = 2;
const DIRTY = 1;
const VADDR = 4;

/** Three mappings: [0x100000, +2 pages), [0x102000, +1 page), [0x110000, +4 pages). */
async function three(ctx: ScenarioContext, type?: number): Promise<Container> {
  const { container } = await containerWith(ctx, EDU_ROOT, type);
  const m = memory(ctx, 8 * 4096);
  await container.mapDma({ flags: RW, vaddr: m.vaddr, iova: 0x100000n, size: 2n * PAGE });
  await container.mapDma({ flags: RW, vaddr: m.vaddr + 2n * PAGE, iova: 0x102000n, size: PAGE });
  await container.mapDma({ flags: RW, vaddr: m.vaddr + 4n * PAGE, iova: 0x110000n, size: 4n * PAGE });
  return container;
}

function unmap(ctx: ScenarioContext, c: Container, key: string, flags: number, iova: bigint, size: bigint) {
  return ctx.attempt(key, async () => ctx.record(`${key}.size`, await c.unmapDma({ flags, iova, size })));
}

export const unmapScenarios: readonly Scenario[] = [
  {
    id: "unmap.exact-and-nothing",
    title: "Unmapping a whole mapping returns its size; a range with no mapping succeeds with size 0",
    async run(ctx) {
      const c = await three(ctx);
      await unmap(ctx, c, "exact", 0, 0x102000n, PAGE);
      await unmap(ctx, c, "again", 0, 0x102000n, PAGE);
      await unmap(ctx, c, "empty_range", 0, 0x500000n, 16n * PAGE);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "unmap.bisect",
    title: "type1v2: a range that splits a mapping at either end is EINVAL, and nothing is unmapped",
    async run(ctx) {
      const c = await three(ctx);
      await unmap(ctx, c, "first_page_only", 0, 0x100000n, PAGE);
      await unmap(ctx, c, "second_page_only", 0, 0x101000n, PAGE);
      await unmap(ctx, c, "tail_into_next", 0, 0x101000n, 2n * PAGE);
      await unmap(ctx, c, "head_of_last", 0, 0x10f000n, 2n * PAGE);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "unmap.span",
    title: "One unmap may cover several whole mappings and the gaps between them",
    async run(ctx) {
      const c = await three(ctx);
      await unmap(ctx, c, "span", 0, 0x100000n, 0x14000n);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "unmap.arguments",
    title: "Unaligned iova or size, size 0, a wrapping range, or unknown flags are EINVAL",
    async run(ctx) {
      const c = await three(ctx);
      await unmap(ctx, c, "iova_unaligned", 0, 0x100800n, PAGE);
      await unmap(ctx, c, "size_unaligned", 0, 0x100000n, 0x1800n);
      await unmap(ctx, c, "size_zero", 0, 0x100000n, 0n);
      await unmap(ctx, c, "wraps", 0, (1n << 64n) - PAGE, 2n * PAGE);
      await unmap(ctx, c, "unknown_flag", 0x8, 0x100000n, 2n * PAGE);
      await unmap(ctx, c, "dirty_with_all", DIRTY | ALL, 0n, 0n);
      await unmap(ctx, c, "dirty_with_vaddr", DIRTY | VADDR, 0x100000n, 2n * PAGE);
      await unmap(ctx, c, "dirty_untracked", DIRTY, 0x100000n, 2n * PAGE);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "unmap.all",
    title: "VFIO_DMA_UNMAP_FLAG_ALL unmaps everything and needs iova 0 and size 0",
    async run(ctx) {
      const c = await three(ctx);
      await unmap(ctx, c, "all_nonzero_iova", ALL, 0x100000n, 0n);
      await unmap(ctx, c, "all_nonzero_size", ALL, 0n, PAGE);
      await unmap(ctx, c, "all", ALL, 0n, 0n);
      await unmap(ctx, c, "all_again", ALL, 0n, 0n);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "unmap.type1v1",
    title: "type1 (v1): a range starting inside a mapping unmaps nothing; one covering its start unmaps it whole",
    async run(ctx) {
      const c = await three(ctx, VFIO_TYPE1_IOMMU);
      await unmap(ctx, c, "inside", 0, 0x101000n, PAGE);
      await unmap(ctx, c, "first_page", 0, 0x100000n, PAGE);
      await unmap(ctx, c, "head_of_last", 0, 0x10f000n, 2n * PAGE);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
];
