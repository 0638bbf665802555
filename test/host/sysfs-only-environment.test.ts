import { test } from "node:test";
import assert from "node:assert/strict";
import type { Sysfs } from "../../src/api/sysfs.js";
import { diagnose } from "../../src/host/diagnose.js";
import { readInventory } from "../../src/host/inventory.js";
import { parsePciAddress } from "../../src/api/pci-address.js";
import { sysfsOnlyEnvironment } from "../../src/host/sysfs-only-environment.js";

/** A Sysfs that is not node:fs at all, as the emulated machine's is: a map of paths. */
function mapSysfs(files: Record<string, string>, links: Record<string, string>): Sysfs {
  const all = [...Object.keys(files), ...Object.keys(links)];
  return {
    description: "in-memory",
    read: async (path) => files[path],
    readlink: async (path) => links[path],
    list: async (path) => {
      const names = new Set(all.filter((p) => p.startsWith(`${path}/`)).map((p) => p.slice(path.length + 1).split("/")[0]!));
      return names.size > 0 ? [...names].sort() : undefined;
    },
    write: async () => {
      throw new Error("read-only");
    },
  };
}

test("host/ works on any Sysfs: an in-memory tree gives groups, verdicts and findings", async () => {
  const dev = "bus/pci/devices/0000:00:03.0";
  const sysfs = mapSysfs(
    { [`${dev}/vendor`]: "0x1234\n", [`${dev}/device`]: "0x11e8\n", [`${dev}/class`]: "0xff0000\n", "kernel/iommu_groups/3/type": "DMA\n" },
    {
      [`${dev}/iommu_group`]: "../../../kernel/iommu_groups/3",
      [`${dev}/driver`]: "../../../bus/pci/drivers/edu-driver",
      "kernel/iommu_groups/3/devices/0000:00:03.0/driver": "../../../../bus/pci/drivers/edu-driver",
    },
  );
  const env = sysfsOnlyEnvironment(sysfs);
  const inventory = await readInventory(env);
  assert.deepEqual(inventory.groups.map((g) => [g.group.id, g.viability.viable]), [[3, false]]);
  const report = await diagnose(env, { kind: "device", address: parsePciAddress("00:03.0") });
  assert.equal(report.iommu.interruptRemapping, "unknown");
  assert.equal(report.memlock, undefined);
  assert.deepEqual(report.findings.map((f) => f.code), ["interrupt-remapping-unknown", "group-not-viable", "vfio-module-missing"]);
  const notViable = report.findings[1];
  assert.ok(notViable?.code === "group-not-viable");
  assert.deepEqual(notViable.fixes.map((alternatives) => alternatives.map((a) => a.kind)), [["bind-vfio-pci"]], "the checked device itself must go to vfio-pci");
});
