/** Viability and binding scenarios: how host drivers decide whether a group is usable (Linux 6.1 DMA ownership). */
import { VFIO_TYPE1v2_IOMMU } from "../../../src/api/constants.js";
import { BRIDGE, E1000, EDU_BRIDGED, bindTo, driverOf, groupOf, openContainer, openGroupOf } from "../fixture.js";
import type { Scenario } from "../scenario.js";

export const viabilityScenarios: readonly Scenario[] = [
  {
    id: "viability.drivers",
    title: "Drivers at the start: edu on vfio-pci, e1000 on e1000, the root port on pcieport",
    async run(ctx) {
      for (const address of ["0000:00:03.0", EDU_BRIDGED, "0000:02:00.0", E1000, "0000:00:05.0"]) {
        ctx.record(address, await driverOf(ctx.system, address));
      }
    },
  },
  {
    id: "viability.e1000-to-vfio-makes-group-viable",
    title: "Moving the e1000 to vfio-pci makes the bridge's group viable; moving it back makes it not viable",
    async run(ctx) {
      ctx.defer(async () => {
        await bindTo(ctx.system, E1000, null);
        await ctx.system.sysfs.write("bus/pci/drivers_probe", E1000);
      });
      const g = await openGroupOf(ctx, EDU_BRIDGED);
      ctx.record("before", await g.status());
      await bindTo(ctx.system, E1000, "vfio-pci");
      ctx.record("driver", await driverOf(ctx.system, E1000));
      ctx.record("after", await g.status());
      const c = await openContainer(ctx);
      await ctx.attempt("set_container", () => g.setContainer(c));
      await ctx.attempt("set_iommu", () => c.setIommu(VFIO_TYPE1v2_IOMMU));
      await ctx.attempt("open_e1000", async () => (await g.openDevice(E1000)).close());
      await ctx.attempt("open_bridge", async () => (await g.openDevice(BRIDGE)).close());
      await g.unsetContainer();
      await bindTo(ctx.system, E1000, null);
      await ctx.system.sysfs.write("bus/pci/drivers_probe", E1000);
      ctx.record("driver_back", await driverOf(ctx.system, E1000));
      ctx.record("back", await g.status());
    },
  },
  {
    id: "viability.host-driver-blocked-while-owned",
    title: "While VFIO owns a group, drivers_probe cannot give a device back to its host driver (EINVAL)",
    async run(ctx) {
      ctx.defer(async () => {
        await bindTo(ctx.system, E1000, null);
        await ctx.system.sysfs.write("bus/pci/drivers_probe", E1000).catch(() => undefined);
      });
      await bindTo(ctx.system, E1000, "vfio-pci");
      const g = await openGroupOf(ctx, EDU_BRIDGED);
      const c = await openContainer(ctx);
      await g.setContainer(c);
      await ctx.system.sysfs.write(`bus/pci/drivers/vfio-pci/unbind`, E1000);
      await ctx.system.sysfs.write(`bus/pci/devices/${E1000}/driver_override`, "\n");
      await ctx.attempt("probe", () => ctx.system.sysfs.write("bus/pci/drivers_probe", E1000));
      ctx.record("driver", await driverOf(ctx.system, E1000));
      await ctx.attempt("bind", () => ctx.system.sysfs.write("bus/pci/drivers/e1000/bind", E1000));
      ctx.record("status", await g.status());
      await g.unsetContainer();
      await ctx.attempt("bind_after_release", () => ctx.system.sysfs.write("bus/pci/drivers/e1000/bind", E1000));
      ctx.record("driver_after", await driverOf(ctx.system, E1000));
      ctx.record("status_after", await g.status());
    },
  },
  {
    id: "viability.bridge-refuses-vfio-pci",
    title: "vfio-pci's probe refuses a bridge: drivers_probe succeeds but nothing binds; bind fails with EINVAL",
    async run(ctx) {
      const before = await driverOf(ctx.system, BRIDGE);
      ctx.record("before", before);
      ctx.defer(async () => {
        await ctx.system.sysfs.write(`bus/pci/devices/${BRIDGE}/driver_override`, "\n");
        if (before) await ctx.system.sysfs.write("bus/pci/drivers_probe", BRIDGE);
      });
      if (before) await ctx.system.sysfs.write(`bus/pci/drivers/${before}/unbind`, BRIDGE);
      await ctx.system.sysfs.write(`bus/pci/devices/${BRIDGE}/driver_override`, "vfio-pci");
      await ctx.attempt("probe", () => ctx.system.sysfs.write("bus/pci/drivers_probe", BRIDGE));
      ctx.record("driver", await driverOf(ctx.system, BRIDGE));
      await ctx.attempt("bind", () => ctx.system.sysfs.write("bus/pci/drivers/vfio-pci/bind", BRIDGE));
      ctx.record("override", (await ctx.system.sysfs.read(`bus/pci/devices/${BRIDGE}/driver_override`))?.trim() ?? null);
    },
  },
  {
    id: "viability.sysfs-write-errors",
    title: "sysfs writes that fail: unbind from the wrong driver and probing a missing device are ENODEV",
    async run(ctx) {
      await ctx.attempt("unbind_wrong_driver", () => ctx.system.sysfs.write("bus/pci/drivers/e1000/unbind", "0000:00:03.0"));
      await ctx.attempt("probe_missing", () => ctx.system.sysfs.write("bus/pci/drivers_probe", "0000:00:1f.7"));
      await ctx.attempt("bind_bound", () => ctx.system.sysfs.write("bus/pci/drivers/vfio-pci/bind", "0000:00:03.0"));
      ctx.record("group_of_e1000_matches_bridge", (await groupOf(ctx.system, E1000)) === (await groupOf(ctx.system, BRIDGE)));
    },
  },
];
