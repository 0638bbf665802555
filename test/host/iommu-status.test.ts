import { test } from "node:test";
import assert from "node:assert/strict";
import { readIommuStatus } from "../../src/host/iommu-status.js";
import { nodeHostEnvironment } from "../../src/host/node-host-environment.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE, PLAIN_INTERRUPTS } from "../helpers/machine-tree.js";

test("readIommuStatus() on this machine's capture: no IOMMU, no DMAR/IVRS, and it says so", async () => {
  const status = await readIommuStatus(nodeHostEnvironment({ root: fixturePath("sysfs/host-no-iommu") }));
  assert.equal(status.active, false);
  assert.deepEqual(status.acpi, { dmar: false, ivrs: false });
  assert.equal(status.groupCount, 0);
  assert.match(status.inactiveReason ?? "", /no DMAR or IVRS/);
});

test("readIommuStatus() on a VT-d guest: active, dmar0 capable of IR (ECAP bit 3), IR chips seen", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const status = await readIommuStatus(nodeHostEnvironment({ root: tree.root }));
  assert.equal(status.active, true);
  assert.deepEqual(status.units, [{ name: "dmar0", vendor: "intel", interruptRemappingCapable: true }]);
  assert.equal(status.interruptRemapping, "enabled");
  assert.deepEqual(status.commandLine?.intelIommu, ["on"]);
  assert.equal(status.inactiveReason, undefined);
});

test("readIommuStatus(): no IR- chips with an active IOMMU means remapping is off", async (t) => {
  const tree = await buildMachineTree({ ...GUEST_LIKE, interrupts: PLAIN_INTERRUPTS, iommuUnits: [{ name: "dmar0", ecap: "f02052" }], allowUnsafeInterrupts: false });
  t.after(tree.cleanup);
  const status = await readIommuStatus(nodeHostEnvironment({ root: tree.root }));
  assert.equal(status.interruptRemapping, "disabled");
  assert.equal(status.units[0]?.interruptRemappingCapable, false);
  assert.equal(status.allowUnsafeInterrupts, false);
});

test("readIommuStatus(): a DMAR table without intel_iommu=on says to boot with it", async (t) => {
  const tree = await buildMachineTree({ devices: [], acpiTables: ["DMAR"], cmdline: "quiet" });
  t.after(tree.cleanup);
  const status = await readIommuStatus(nodeHostEnvironment({ root: tree.root }));
  assert.equal(status.active, false);
  assert.match(status.inactiveReason ?? "", /intel_iommu=on/);
});

test("readIommuStatus(): intel_iommu=off on the command line is named as the cause", async (t) => {
  const tree = await buildMachineTree({ devices: [], acpiTables: ["DMAR"], cmdline: "intel_iommu=off" });
  t.after(tree.cleanup);
  assert.match((await readIommuStatus(nodeHostEnvironment({ root: tree.root }))).inactiveReason ?? "", /intel_iommu=off/);
});

test("readIommuStatus(): VFIO no-IOMMU groups do not count as an active IOMMU", async (t) => {
  const tree = await buildMachineTree({ devices: [{ address: "0000:00:03.0", vendor: 0x1234, device: 0x11e8, classCode: 0xff0000, group: 0, driver: "vfio-pci" }], noIommu: true, cmdline: "quiet" });
  t.after(tree.cleanup);
  const status = await readIommuStatus(nodeHostEnvironment({ root: tree.root }));
  assert.equal(status.active, false);
  assert.equal(status.groupCount, 1);
  assert.equal(status.noIommuGroupCount, 1);
  assert.match(status.inactiveReason ?? "", /no-IOMMU group isolate nothing/);
});
