/** Container scenarios: API version, extensions, VFIO_SET_IOMMU's rules, IOMMU ioctls before an IOMMU. */
import {
  VFIO_DMA_CC_IOMMU, VFIO_EEH, VFIO_NOIOMMU_IOMMU, VFIO_SPAPR_TCE_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1_NESTING_IOMMU,
  VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR, VFIO_DMA_MAP_FLAG_READ,
} from "../../../src/api/constants.js";
import type { Container } from "../../../src/api/container.js";
import { EDU_ROOT, containerWith, memory, openContainer, openGroupOf } from "../fixture.js";
import type { Scenario } from "../scenario.js";

const extensions = {
  TYPE1: VFIO_TYPE1_IOMMU, SPAPR_TCE: VFIO_SPAPR_TCE_IOMMU, TYPE1v2: VFIO_TYPE1v2_IOMMU, DMA_CC: VFIO_DMA_CC_IOMMU,
  EEH: VFIO_EEH, NESTING: VFIO_TYPE1_NESTING_IOMMU, NOIOMMU: VFIO_NOIOMMU_IOMMU, UNMAP_ALL: VFIO_UNMAP_ALL,
  UPDATE_VADDR: VFIO_UPDATE_VADDR, zero: 0, unknown: 99,
};

async function recordExtensions(container: Container, record: (k: string, v: unknown) => void): Promise<void> {
  for (const [name, value] of Object.entries(extensions)) record(`ext.${name}`, await container.checkExtension(value));
}

export const containerScenarios: readonly Scenario[] = [
  {
    id: "container.api-version",
    title: "VFIO_GET_API_VERSION answers VFIO_API_VERSION (0)",
    async run(ctx) {
      const c = await openContainer(ctx);
      ctx.record("version", await c.apiVersion());
    },
  },
  {
    id: "container.extensions-unset",
    title: "VFIO_CHECK_EXTENSION on a new container polls the type1 driver",
    async run(ctx) {
      await recordExtensions(await openContainer(ctx), ctx.record);
    },
  },
  {
    id: "container.extensions-type1v2",
    title: "VFIO_CHECK_EXTENSION once type1v2 is set (DMA_CC reflects the domain's cache coherency)",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT);
      await recordExtensions(container, ctx.record);
    },
  },
  {
    id: "container.set-iommu-without-group",
    title: "VFIO_SET_IOMMU on a container with no group fails with EINVAL",
    async run(ctx) {
      const c = await openContainer(ctx);
      await ctx.attempt("set_iommu", () => c.setIommu(VFIO_TYPE1v2_IOMMU));
    },
  },
  {
    id: "container.set-iommu-types",
    title: "VFIO_SET_IOMMU: an unsupported type is ENODEV, an extension that is not a type EINVAL",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await g.setContainer(c);
      await ctx.attempt("spapr_tce", () => c.setIommu(VFIO_SPAPR_TCE_IOMMU));
      await ctx.attempt("noiommu", () => c.setIommu(VFIO_NOIOMMU_IOMMU));
      await ctx.attempt("unknown", () => c.setIommu(99));
      await ctx.attempt("unmap_all", () => c.setIommu(VFIO_UNMAP_ALL));
      await ctx.attempt("type1v2", () => c.setIommu(VFIO_TYPE1v2_IOMMU));
    },
  },
  {
    id: "container.set-iommu-nesting",
    title: "VFIO_SET_IOMMU(VFIO_TYPE1_NESTING_IOMMU) on VT-d, which cannot nest",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await g.setContainer(c);
      ctx.record("ext", await c.checkExtension(VFIO_TYPE1_NESTING_IOMMU));
      await ctx.attempt("set_iommu", () => c.setIommu(VFIO_TYPE1_NESTING_IOMMU));
    },
  },
  {
    id: "container.set-iommu-twice",
    title: "A second VFIO_SET_IOMMU fails with EINVAL",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT);
      await ctx.attempt("again_v2", () => container.setIommu(VFIO_TYPE1v2_IOMMU));
      await ctx.attempt("again_v1", () => container.setIommu(VFIO_TYPE1_IOMMU));
    },
  },
  {
    id: "container.type1v1",
    title: "VFIO_SET_IOMMU(VFIO_TYPE1_IOMMU) works, and GET_INFO reports the same page sizes",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT, VFIO_TYPE1_IOMMU);
      const info = await container.iommuInfo();
      ctx.record("flags", info.flags);
      ctx.record("pgsizes", info.iovaPgsizes);
    },
  },
  {
    id: "container.iommu-ioctls-before-set-iommu",
    title: "GET_INFO, MAP_DMA and UNMAP_DMA before VFIO_SET_IOMMU fail with EINVAL",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      const m = memory(ctx, 4096);
      await ctx.attempt("info_empty", () => c.iommuInfo());
      await g.setContainer(c);
      await ctx.attempt("info", () => c.iommuInfo());
      await ctx.attempt("map", () => c.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: m.vaddr, iova: 0x100000n, size: 4096n }));
      await ctx.attempt("unmap", () => c.unmapDma({ flags: 0, iova: 0x100000n, size: 4096n }));
    },
  },
  {
    id: "container.iommu-info",
    title: "VFIO_IOMMU_GET_INFO: page sizes, DMA available, IOVA ranges around the MSI window, migration",
    async run(ctx) {
      const { container } = await containerWith(ctx, EDU_ROOT);
      const info = await container.iommuInfo();
      ctx.record("flags", info.flags);
      ctx.record("pgsizes", info.iovaPgsizes);
      ctx.record("dma_avail", info.dmaAvailable);
      ctx.record("iova_ranges", info.iovaRanges);
      ctx.record("migration", info.migration);
    },
  },
  {
    id: "container.close-releases-groups",
    title: "Closing the container releases its groups: they can be opened and attached again",
    async run(ctx) {
      const c = await ctx.system.openContainer();
      const g = await ctx.system.openGroup((await openGroupOfId(ctx)));
      await g.setContainer(c);
      await c.setIommu(VFIO_TYPE1v2_IOMMU);
      await c.close();
      await g.close();
      const { group } = await containerWith(ctx, EDU_ROOT);
      ctx.record("status", await group.status());
    },
  },
];

async function openGroupOfId(ctx: Parameters<Scenario["run"]>[0]): Promise<number> {
  const target = await ctx.system.sysfs.readlink(`bus/pci/devices/${EDU_ROOT}/iommu_group`);
  return Number(target!.split("/").pop());
}
