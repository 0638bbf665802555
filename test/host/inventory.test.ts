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
