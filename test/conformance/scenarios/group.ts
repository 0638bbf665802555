/** Group scenarios: opening /dev/vfio/N, status, container attach and detach, device fds. */
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_TYPE1v2_IOMMU } from "../../../src/api/constants.js";
import { BRIDGE, E1000, EDU_BRIDGED, EDU_PORT, EDU_ROOT, containerWith, groupOf, memory, openContainer, openDevice, openGroupOf } from "../fixture.js";
import type { Scenario } from "../scenario.js";

export const groupScenarios: readonly Scenario[] = [
  {
    id: "group.open-missing",
    title: "open(/dev/vfio/N) for a group with no vfio-pci device, or no group, fails with ENOENT",
    async run(ctx) {
      const ich9 = await groupOf(ctx.system, "0000:00:1f.0");
      await ctx.attempt("ich9_group", () => ctx.system.openGroup(ich9).then((g) => g.close()));
      await ctx.attempt("group_999", () => ctx.system.openGroup(999).then((g) => g.close()));
    },
  },
  {
    id: "group.open-twice",
    title: "A group can be open once: the second open fails with EBUSY",
    async run(ctx) {
      await openGroupOf(ctx, EDU_ROOT);
      await ctx.attempt("second", async () => (await ctx.system.openGroup(await groupOf(ctx.system, EDU_ROOT))).close());
    },
  },
  {
    id: "group.reopen-after-close",
    title: "A closed group can be opened again",
    async run(ctx) {
      const id = await groupOf(ctx.system, EDU_ROOT);
      const g = await ctx.system.openGroup(id);
      await g.close();
      await g.close();
      await ctx.attempt("reopen", async () => (await ctx.system.openGroup(id)).close());
    },
  },
  {
    id: "group.status-viable",
    title: "VFIO_GROUP_GET_STATUS of a group whose devices are all on vfio-pci: VIABLE",
    async run(ctx) {
      const g = await openGroupOf(ctx, EDU_ROOT);
      ctx.record("flags", await g.status());
    },
  },
  {
    id: "group.status-not-viable",
    title: "A group with a device on a host driver (e1000) is not viable: flags 0, SET_CONTAINER is EPERM",
    async run(ctx) {
      const g = await openGroupOf(ctx, EDU_BRIDGED);
      ctx.record("flags", await g.status());
      const c = await openContainer(ctx);
      await ctx.attempt("set_container", () => g.setContainer(c));
      ctx.record("flags_after", await g.status());
    },
  },
  {
    id: "group.status-container-set",
    title: "Once attached, status is CONTAINER_SET|VIABLE",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await g.setContainer(c);
      ctx.record("flags", await g.status());
      await c.setIommu(VFIO_TYPE1v2_IOMMU);
      ctx.record("flags_iommu", await g.status());
    },
  },
  {
    id: "group.set-container-twice",
    title: "SET_CONTAINER on an attached group fails with EINVAL, to the same or another container",
    async run(ctx) {
      const c = await openContainer(ctx);
      const other = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await g.setContainer(c);
      await ctx.attempt("same", () => g.setContainer(c));
      await ctx.attempt("other", () => g.setContainer(other));
    },
  },
  {
    id: "group.unset-container",
    title: "UNSET_CONTAINER: EINVAL when not attached; after it the group is viable and the container unset",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await ctx.attempt("not_attached", () => g.unsetContainer());
      await g.setContainer(c);
      await c.setIommu(VFIO_TYPE1v2_IOMMU);
      await ctx.attempt("unset", () => g.unsetContainer());
      ctx.record("flags", await g.status());
      await ctx.attempt("info_after", () => c.iommuInfo());
      await ctx.attempt("set_iommu_after", () => c.setIommu(VFIO_TYPE1v2_IOMMU));
      await ctx.attempt("unset_again", () => g.unsetContainer());
    },
  },
  {
    id: "group.unset-container-device-open",
    title: "UNSET_CONTAINER while a device of the group is open fails with EBUSY; after the close it works",
    async run(ctx) {
      const { group, device } = await openDevice(ctx, EDU_ROOT);
      await ctx.attempt("unset_open", () => group.unsetContainer());
      await device.close();
      await ctx.attempt("unset_closed", () => group.unsetContainer());
    },
  },
  {
    id: "group.device-fd-before-container",
    title: "GET_DEVICE_FD before SET_CONTAINER, and before SET_IOMMU, fails with EINVAL",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g = await openGroupOf(ctx, EDU_ROOT);
      await ctx.attempt("no_container", async () => (await g.openDevice(EDU_ROOT)).close());
      await g.setContainer(c);
      await ctx.attempt("no_iommu", async () => (await g.openDevice(EDU_ROOT)).close());
      await c.setIommu(VFIO_TYPE1v2_IOMMU);
      await ctx.attempt("ready", async () => (await g.openDevice(EDU_ROOT)).close());
    },
  },
  {
    id: "group.device-fd-names",
    title: "GET_DEVICE_FD with a name that is not a vfio device of the group fails with ENODEV",
    async run(ctx) {
      const { group } = await containerWith(ctx, EDU_ROOT);
      await ctx.attempt("other_group", async () => (await group.openDevice(EDU_PORT)).close());
      await ctx.attempt("no_such", async () => (await group.openDevice("0000:00:1f.7")).close());
      await ctx.attempt("garbage", async () => (await group.openDevice("edu")).close());
      await ctx.attempt("short_form", async () => (await group.openDevice("00:03.0")).close());
    },
  },
  {
    id: "group.device-fd-twice",
    title: "A vfio-pci device can be opened twice; both fds work",
    async run(ctx) {
      const { group } = await containerWith(ctx, EDU_ROOT);
      const a = await group.openDevice(EDU_ROOT);
      ctx.defer(() => a.close());
      const b = await ctx.attempt("second", () => group.openDevice(EDU_ROOT));
      if (b) ctx.defer(() => b.close());
      ctx.record("a_flags", (await a.info()).flags);
      if (b) ctx.record("b_flags", (await b.info()).flags);
    },
  },
  {
    id: "group.two-groups-one-container",
    title: "Two viable groups share one container and its mappings",
    async run(ctx) {
      const c = await openContainer(ctx);
      const g1 = await openGroupOf(ctx, EDU_ROOT);
      const g2 = await openGroupOf(ctx, EDU_PORT);
      await g1.setContainer(c);
      await ctx.attempt("second_attach_before_iommu", () => g2.setContainer(c));
      await c.setIommu(VFIO_TYPE1v2_IOMMU);
      const m = memory(ctx, 4096);
      await c.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: m.vaddr, iova: 0x200000n, size: 4096n });
      await ctx.attempt("unset_first", () => g1.unsetContainer());
      ctx.record("unmap_after_first_left", await c.unmapDma({ flags: 0, iova: 0x200000n, size: 4096n }));
      ctx.record("g2_status", await g2.status());
    },
  },
  {
    id: "group.last-group-leaving-drops-iommu",
    title: "When the last group leaves, the IOMMU and its mappings go: a new SET_IOMMU starts empty",
    async run(ctx) {
      const { container, group } = await containerWith(ctx, EDU_ROOT);
      const m = memory(ctx, 4096);
      await container.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: m.vaddr, iova: 0x300000n, size: 4096n });
      ctx.record("avail_before", (await container.iommuInfo()).dmaAvailable);
      await group.unsetContainer();
      await group.setContainer(container);
      await container.setIommu(VFIO_TYPE1v2_IOMMU);
      ctx.record("avail_after", (await container.iommuInfo()).dmaAvailable);
      ctx.record("unmap", await container.unmapDma({ flags: 0, iova: 0x300000n, size: 4096n }));
    },
  },
  {
    id: "group.sysfs-membership",
    title: "IOMMU groups as sysfs shows them: edu alone, bridge+edu+e1000 together, ICH9 functions together",
    async run(ctx) {
      const sysfs = ctx.system.sysfs;
      for (const address of [EDU_ROOT, EDU_BRIDGED, EDU_PORT, E1000, BRIDGE, "0000:00:1f.0"]) {
        const id = await groupOf(ctx.system, address);
        ctx.record(`members.${address}`, [...((await sysfs.list(`kernel/iommu_groups/${id}/devices`)) ?? [])].sort());
      }
      ctx.record("same.bridge_edu", (await groupOf(ctx.system, BRIDGE)) === (await groupOf(ctx.system, EDU_BRIDGED)));
      ctx.record("same.port_edu", (await groupOf(ctx.system, "0000:00:05.0")) === (await groupOf(ctx.system, EDU_PORT)));
    },
  },
];
