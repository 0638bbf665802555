import { test } from "node:test";
import assert from "node:assert/strict";
import { formatStep, planBind, restoreSteps } from "../../src/host/bind-plan.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

/** The test guest's bridge group (scripts/guest/README.md): 00:04.0 bridge, 01:01.0 edu (no driver), 01:02.0 e1000. */
function bridgeGroup(): FakeKernelSysfs {
  return new FakeKernelSysfs([
    { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: null },
    { address: "0000:01:01.0", group: 4, classCode: "0x00ff00", nativeDriver: null },
    { address: "0000:01:02.0", group: 4, classCode: "0x020000", nativeDriver: "e1000" },
    { address: "0000:00:03.0", group: 3, classCode: "0x00ff00", nativeDriver: null },
  ], ["e1000", "vfio-pci"]);
}

test("planBind() names every group member: the bridge stays, the others move to vfio-pci", async () => {
  const plan = await planBind(bridgeGroup(), ["01:01.0"]);
  assert.deepEqual(plan.groups, [4]);
  assert.deepEqual(plan.members.map((m) => [m.address, m.action, m.requested]), [
    ["0000:00:04.0", "stays", false],
    ["0000:01:01.0", "bind", true],
    ["0000:01:02.0", "bind", false],
  ]);
});

test("planBind() orders override, unbind, check, drivers_probe, check for a bound device", async () => {
  const plan = await planBind(bridgeGroup(), ["0000:01:02.0"]);
  const e1000 = plan.steps.filter((s) => "device" in s && s.device === "0000:01:02.0");
  assert.deepEqual(e1000.map((s) => s.kind === "write" ? `${s.path}=${s.value}` : s.kind === "expect-driver" ? `${s.path}->${s.driver}` : s.kind), [
    "bus/pci/devices/0000:01:02.0/driver_override=vfio-pci",
    "bus/pci/drivers/e1000/unbind=0000:01:02.0",
    "bus/pci/devices/0000:01:02.0/driver->null",
    "bus/pci/drivers_probe=0000:01:02.0",
    "bus/pci/devices/0000:01:02.0/driver->vfio-pci",
  ]);
  // The unbound edu needs no unbind.
  assert.equal(plan.steps.filter((s) => s.kind === "write" && s.device === "0000:01:01.0").length, 2);
});

test("planBind() loads vfio-pci first when its driver directory is missing", async () => {
  const sysfs = new FakeKernelSysfs([{ address: "0000:00:03.0", group: 3, nativeDriver: "e1000" }], ["e1000"]);
  const plan = await planBind(sysfs, ["0000:00:03.0"]);
  assert.deepEqual(plan.steps.slice(0, 2).map((s) => s.kind), ["load-module", "expect-path"]);
});

test("planBind() plans nothing for a device already on vfio-pci, and each group once", async () => {
  const sysfs = new FakeKernelSysfs([
    { address: "0000:00:03.0", group: 3, nativeDriver: "e1000", driver: "vfio-pci" },
    { address: "0000:00:05.0", group: 3, nativeDriver: null, driver: "pcieport" },
  ], ["e1000", "vfio-pci", "pcieport"]);
  const plan = await planBind(sysfs, ["0000:00:03.0", "0000:00:05.0"]);
  assert.deepEqual(plan.groups, [3]);
  assert.deepEqual(plan.members.map((m) => m.action), ["already-bound", "stays"]);
  assert.deepEqual(plan.steps, []);
});

test("planBind() rejects bad addresses, missing devices, and a group made unviable by a bridge's driver", async () => {
  await assert.rejects(planBind(bridgeGroup(), ["1:2:3"]), { name: "VfioUsageError", code: "EINVAL" });
  await assert.rejects(planBind(bridgeGroup(), ["0000:09:00.0"]), { name: "VfioUsageError", code: "ENODEV" });
  await assert.rejects(planBind(bridgeGroup(), []), { name: "VfioUsageError" });
  const sysfs = new FakeKernelSysfs([
    { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: "shpchp" },
    { address: "0000:01:01.0", group: 4, nativeDriver: null },
  ], ["shpchp", "vfio-pci"]);
  await assert.rejects(planBind(sysfs, ["0000:01:01.0"]), { code: "ENOTVIABLE" });
});

test("planBind() rejects a device without an IOMMU group: the machine's state (api/no-iommu.ts), not a usage error", async () => {
  const sysfs = bridgeGroup();
  sysfs.links.delete("bus/pci/devices/0000:00:03.0/iommu_group");
  await assert.rejects(planBind(sysfs, ["0000:00:03.0"]), { name: "VfioError", code: "ENODEV" });
});

test("restoreSteps() clears the override, unbinds vfio-pci and reprobes the previous driver", async () => {
  const sysfs = new FakeKernelSysfs([{ address: "0000:00:03.0", group: 3, nativeDriver: "e1000", driver: "vfio-pci", override: "vfio-pci" }], ["e1000", "vfio-pci"]);
  const steps = await restoreSteps(sysfs, { address: "0000:00:03.0", previousDriver: "e1000", previousOverride: null });
  assert.deepEqual(steps.map(formatStep).map((l) => l.split("    #")[0]), [
    'echo "" > bus/pci/devices/0000:00:03.0/driver_override',
    'echo "0000:00:03.0" > bus/pci/drivers/vfio-pci/unbind',
    "check bus/pci/devices/0000:00:03.0/driver is absent",
    'echo "0000:00:03.0" > bus/pci/drivers_probe',
    "check bus/pci/devices/0000:00:03.0/driver -> e1000",
  ]);
});
