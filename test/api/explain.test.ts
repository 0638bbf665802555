import { test } from "node:test";
import assert from "node:assert/strict";
import { explainNoGroup, explainNotViable, groupMembers, iommuPresent, NO_IOMMU_HINT } from "../../src/api/explain.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { Machine } from "../../src/emu/machine.js";
import { renderSysfs } from "../../src/emu/sysfs/emulated-sysfs.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { fixturePath } from "../helpers/fixtures.js";

const emulated = () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const fn = machine.fn("0000:01:02.0")!;
  return { sysfs: renderSysfs(machine), group: fn.groupId };
};

test("explanations read group members through api/iommu-groups: the e1000 blocks its group, by name and driver", async () => {
  const { sysfs, group } = emulated();
  const members = await groupMembers(sysfs, group);
  assert.deepEqual(members?.find((m) => m.address === "0000:01:02.0"), { address: "0000:01:02.0", driver: "e1000" });
  const hint = await explainNotViable(sysfs, group);
  assert.ok(hint.includes("0000:01:02.0 (e1000)"), hint);
  assert.ok(!hint.includes("0000:01:01.0"), "the member on vfio-pci does not block");
  assert.equal(await groupMembers(sysfs, 999), undefined);
});

test("an IOMMU is present on the emulated machine and absent on the captured host without one", async () => {
  assert.equal(await iommuPresent(emulated().sysfs), true);
  const none = nodeSysfs({ root: fixturePath("sysfs/host-no-iommu/sys") });
  assert.equal(await iommuPresent(none), false);
  assert.equal(await explainNoGroup(none, 3), NO_IOMMU_HINT);
});
