import { test } from "node:test";
import assert from "node:assert/strict";
import { groupMembers, isBridge, readBindingState, readOverride } from "../../src/host/binding-state.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

const sysfs = () => new FakeKernelSysfs([
  { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: null },
  { address: "0000:01:02.0", group: 4, nativeDriver: "e1000", override: "vfio-pci" },
], ["e1000"]);

test("readBindingState() reads driver, driver_override, group and class", async () => {
  assert.deepEqual(await readBindingState(sysfs(), "0000:01:02.0"), {
    address: "0000:01:02.0", driver: "e1000", override: "vfio-pci", group: 4, classCode: 0x020000,
  });
  assert.deepEqual(await readBindingState(sysfs(), "0000:00:04.0"), {
    address: "0000:00:04.0", driver: null, override: null, group: 4, classCode: 0x060400,
  });
});

test("readOverride() reads the kernel's '(null)' as unset", async () => {
  const s = sysfs();
  s.files.set("x/driver_override", "(null)\n");
  assert.equal(await readOverride(s, "0000:00:04.0"), null);
});

test("readBindingState() rejects a malformed class and a group link naming no group", async () => {
  const s = sysfs();
  s.files.set("bus/pci/devices/0000:00:04.0/class", "bridge\n");
  await assert.rejects(readBindingState(s, "0000:00:04.0"), { name: "VfioProtocolError", field: "class" });
  s.links.set("bus/pci/devices/0000:01:02.0/iommu_group", "../../../kernel/iommu_groups/x");
  await assert.rejects(readBindingState(s, "0000:01:02.0"), { name: "VfioProtocolError", field: "iommu_group" });
});

test("groupMembers() lists a group sorted; isBridge() knows PCI-PCI and CardBus bridges only", async () => {
  assert.deepEqual(await groupMembers(sysfs(), 4), ["0000:00:04.0", "0000:01:02.0"]);
  await assert.rejects(groupMembers(sysfs(), 9), { field: "iommu_group" });
  assert.equal(isBridge(0x060400), true);
  assert.equal(isBridge(0x060401), true);
  assert.equal(isBridge(0x060700), true);
  assert.equal(isBridge(0x060100), false);
  assert.equal(isBridge(0x060000), false);
});
