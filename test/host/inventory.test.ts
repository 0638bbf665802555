import { test } from "node:test";
import assert from "node:assert/strict";
import { readInventory } from "../../src/host/inventory.js";
import { nodeHostEnvironment } from "../../src/host/node-host-environment.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../helpers/machine-tree.js";

test("readInventory() without an IOMMU lists every PCI device as ungrouped", async () => {
  const inventory = await readInventory(nodeHostEnvironment({ root: fixturePath("sysfs/host-no-iommu") }));
  assert.equal(inventory.groups.length, 0);
  assert.equal(inventory.ungrouped.length, 6);
});

test("readInventory() gives each group its verdict and PCI members", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const inventory = await readInventory(nodeHostEnvironment({ root: tree.root }));
  assert.deepEqual(inventory.groups.map((g) => [g.group.id, g.viability.viable]), [[0, true], [1, true], [2, false]]);
  assert.deepEqual(inventory.groups[2]!.devices.map((d) => d.address), ["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"]);
  assert.equal(inventory.ungrouped.length, 0);
});

const GUEST_GROUPS: Record<number, string[]> = {
  0: ["0000:00:00.0"],
  1: ["0000:00:03.0"],
  2: ["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"],
  3: ["0000:00:05.0"],
  4: ["0000:00:06.0"],
  5: ["0000:00:07.0"],
  6: ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"],
  7: ["0000:02:00.0"],
};

for (const [fixture, notViable, nicDriver] of [
  ["guest-q35-e1000-bound", [2, 5], "e1000"],
  ["guest-q35-e1000-unbound", [5], undefined],
] as const) {
  test(`readInventory() on the Linux 6.1 guest capture ${fixture}: every group, member and verdict`, async () => {
    const inventory = await readInventory(nodeHostEnvironment({ root: fixturePath(`sysfs/${fixture}`) }));
    assert.equal(inventory.iommu.active, true);
    assert.equal(inventory.iommu.interruptRemapping, "enabled");
    assert.deepEqual(Object.fromEntries(inventory.groups.map((g) => [g.group.id, g.group.members.map((m) => m.name)])), GUEST_GROUPS);
    assert.deepEqual(inventory.groups.filter((g) => !g.viability.viable).map((g) => g.group.id), notViable);
    const drivers = Object.fromEntries(inventory.devices.map((d) => [d.address, d.driver]));
    assert.equal(drivers["0000:01:02.0"], nicDriver);
    assert.equal(drivers["0000:01:01.0"], "vfio-pci");
    assert.equal(drivers["0000:00:05.0"], "pcieport");
    assert.equal(drivers["0000:00:04.0"], undefined, "a conventional PCI bridge has no driver");
    assert.equal(inventory.ungrouped.length, 0);
  });
}
