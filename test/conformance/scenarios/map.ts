/** VFIO_IOMMU_MAP_DMA scenarios (type1v2): alignment, permissions, overlaps, IOVA ranges, vaddr, limits. */
import {
  VFIO_DMA_MAP_FLAG_READ as R, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE as W,
} from "../../../src/api/constants.js";
import type { Container } from "../../../src/api/container.js";
import { EDU_ROOT, containerWith, memory } from "../fixture.js";
import type { Scenario, ScenarioContext } from "../scenario.js";

const RW = R | W;
const PAGE = 4096n;

async function setup(ctx: ScenarioContext, pages = 4): Promise<{ c: Container; vaddr: bigint }> {
  const { container } = await containerWith(ctx, EDU_ROOT);
  const m = memory(ctx, pages * 4096);
  return { c: container, vaddr: m.vaddr };
}

function map(ctx: ScenarioContext, c: Container, key: string, flags: number, vaddr: bigint, iova: bigint, size: bigint) {
  return ctx.attempt(key, () => c.mapDma({ flags, vaddr, iova, size }));
}

export const mapScenarios: readonly Scenario[] = [
  {
    id: "map.basic",
    title: "A page-aligned mapping succeeds and takes one of dma_entry_limit",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx);
      await map(ctx, c, "map", RW, vaddr, 0x100000n, PAGE);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
      await map(ctx, c, "read_only", R, vaddr + PAGE, 0x101000n, PAGE);
      await map(ctx, c, "write_only", W, vaddr + 2n * PAGE, 0x102000n, PAGE);
      ctx.record("avail_3", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "map.alignment",
    title: "size 0, or an iova, size or vaddr not aligned to the IOMMU page, is EINVAL",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx);
      await map(ctx, c, "size_zero", RW, vaddr, 0x100000n, 0n);
      await map(ctx, c, "iova_unaligned", RW, vaddr, 0x100800n, PAGE);
      await map(ctx, c, "size_unaligned", RW, vaddr, 0x100000n, 0x800n);
      await map(ctx, c, "vaddr_unaligned", RW, vaddr + 0x10n, 0x100000n, PAGE);
      await map(ctx, c, "size_page_and_half", RW, vaddr, 0x100000n, 0x1800n);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
    },
  },
  {
    id: "map.flags",
    title: "Neither READ nor WRITE, an unknown flag, or VADDR with READ/WRITE is EINVAL",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx);
      await map(ctx, c, "no_permission", 0, vaddr, 0x100000n, PAGE);
      await map(ctx, c, "unknown_flag", RW | 0x8, vaddr, 0x100000n, PAGE);
      await map(ctx, c, "high_flag", RW | 0x80000000, vaddr, 0x100000n, PAGE);
      await map(ctx, c, "vaddr_with_rw", RW | VFIO_DMA_MAP_FLAG_VADDR, vaddr, 0x100000n, PAGE);
    },
  },
  {
    id: "map.overlap",
    title: "Any overlap with an existing mapping is EEXIST; adjacent mappings are fine",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx, 8);
      await map(ctx, c, "first", RW, vaddr, 0x110000n, 2n * PAGE);
      await map(ctx, c, "same", RW, vaddr, 0x110000n, 2n * PAGE);
      await map(ctx, c, "inside", RW, vaddr, 0x111000n, PAGE);
      await map(ctx, c, "start_before", RW, vaddr, 0x10f000n, 2n * PAGE);
      await map(ctx, c, "end_after", RW, vaddr, 0x111000n, 2n * PAGE);
      await map(ctx, c, "enclosing", RW, vaddr, 0x10f000n, 4n * PAGE);
      await map(ctx, c, "below", RW, vaddr + 2n * PAGE, 0x10f000n, PAGE);
      await map(ctx, c, "above", RW, vaddr + 3n * PAGE, 0x112000n, PAGE);
      await map(ctx, c, "same_vaddr_elsewhere", RW, vaddr, 0x200000n, 2n * PAGE);
    },
  },
  {
    id: "map.iova-ranges",
    title: "Mappings must lie in one valid IOVA range: the MSI window and past the aperture are EINVAL",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx);
      const info = await c.iommuInfo();
      const ranges = info.iovaRanges ?? [];
      ctx.record("ranges", ranges.length);
      await map(ctx, c, "msi_window", RW, vaddr, 0xfee00000n, PAGE);
      await map(ctx, c, "msi_window_end", RW, vaddr, 0xfeeff000n, PAGE);
      await map(ctx, c, "straddle_msi", RW, vaddr, 0xfedff000n, 2n * PAGE);
      await map(ctx, c, "below_msi", RW, vaddr, 0xfedff000n, PAGE);
      await map(ctx, c, "above_msi", RW, vaddr + PAGE, 0xfef00000n, PAGE);
      const last = ranges.length ? ranges[ranges.length - 1]!.end : 0n;
      await map(ctx, c, "last_page", RW, vaddr + 2n * PAGE, last - PAGE + 1n, PAGE);
      await map(ctx, c, "past_aperture", RW, vaddr + 3n * PAGE, last + 1n, PAGE);
      await map(ctx, c, "wraps", RW, vaddr, (1n << 64n) - PAGE, 2n * PAGE);
      await map(ctx, c, "top_page", RW, vaddr, (1n << 64n) - PAGE, PAGE);
      await map(ctx, c, "iova_zero", RW, vaddr + 3n * PAGE, 0n, PAGE);
    },
  },
  {
    id: "map.vaddr",
    title: "A vaddr range the process has not mapped is EFAULT, and nothing is mapped",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx, 2);
      await map(ctx, c, "null_page", RW, 0x1000n, 0x100000n, PAGE);
      await map(ctx, c, "kernel_half", RW, 0xffff_8000_0000_0000n, 0x100000n, PAGE);
      const freed = ctx.system.allocateMemory(4096);
      freed.free();
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
      await map(ctx, c, "ok_after", RW, vaddr, 0x100000n, PAGE);
    },
  },
  {
    id: "map.large-aligned",
    title: "A 2 MiB mapping at a 2 MiB IOVA, and a 1 GiB-aligned IOVA, succeed",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT);
      const m = memory(ctx, 2 * 1024 * 1024);
      await ctx.attempt("map_2m", () => container.mapDma({ flags: RW, vaddr: m.vaddr, iova: 0x4000_0000n, size: 0x20_0000n }));
      await ctx.attempt("unmap_2m", () => container.unmapDma({ flags: 0, iova: 0x4000_0000n, size: 0x20_0000n }).then((s) => ctx.record("size", s)));
    },
  },
  {
    id: "map.dma-entry-limit",
    title: "The 65536th mapping fails with ENOSPC (dma_entry_limit 65535); an unmap gives one back",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx, 1);
      let failedAt = -1;
      let code = "none";
      for (let i = 0; i < 70000; i++) {
        try {
          await c.mapDma({ flags: RW, vaddr, iova: 0x1_0000_0000n + BigInt(i) * PAGE, size: PAGE });
        } catch (error) {
          failedAt = i;
          code = (error as { code?: string }).code ?? "?";
          break;
        }
      }
      ctx.record("failed_at", failedAt);
      ctx.record("code", code);
      ctx.record("avail", (await c.iommuInfo()).dmaAvailable);
      ctx.record("unmap_one", await c.unmapDma({ flags: 0, iova: 0x1_0000_0000n, size: PAGE }));
      await map(ctx, c, "map_again", RW, vaddr, 0x1_0000_0000n, PAGE);
      ctx.record("unmap_all", await c.unmapDma({ flags: 2, iova: 0n, size: 0n }));
    },
  },
  {
    id: "map.update-vaddr",
    title: "VFIO_DMA_UNMAP_FLAG_VADDR invalidates vaddrs; MAP with VADDR gives one back, once, to an exact mapping",
    async run(ctx) {
      const { c, vaddr } = await setup(ctx, 4);
      await c.mapDma({ flags: RW, vaddr, iova: 0x100000n, size: 2n * PAGE });
      await map(ctx, c, "vaddr_not_invalid", VFIO_DMA_MAP_FLAG_VADDR, vaddr + 2n * PAGE, 0x100000n, 2n * PAGE);
      ctx.record("invalidate", await c.unmapDma({ flags: 4, iova: 0x100000n, size: 2n * PAGE }));
      await ctx.attempt("invalidate_again", () => c.unmapDma({ flags: 4, iova: 0x100000n, size: 2n * PAGE }));
      await map(ctx, c, "vaddr_partial", VFIO_DMA_MAP_FLAG_VADDR, vaddr + 2n * PAGE, 0x100000n, PAGE);
      await map(ctx, c, "vaddr_no_mapping", VFIO_DMA_MAP_FLAG_VADDR, vaddr, 0x800000n, PAGE);
      await map(ctx, c, "vaddr_update", VFIO_DMA_MAP_FLAG_VADDR, vaddr + 2n * PAGE, 0x100000n, 2n * PAGE);
      await map(ctx, c, "vaddr_update_again", VFIO_DMA_MAP_FLAG_VADDR, vaddr, 0x100000n, 2n * PAGE);
      ctx.record("unmap", await c.unmapDma({ flags: 0, iova: 0x100000n, size: 2n * PAGE }));
    },
  },
];
