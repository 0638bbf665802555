import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { listIommuGroups, readIommuGroup } from "../../src/host/iommu-groups.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../helpers/machine-tree.js";

test("listIommuGroups() finds no groups on a machine without an IOMMU", async () => {
  assert.deepEqual(await listIommuGroups(nodeSysfs({ root: fixturePath("sysfs/host-no-iommu/sys") })), []);
});

test("listIommuGroups() lists groups in number order with members and drivers", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const groups = await listIommuGroups(nodeSysfs({ root: join(tree.root, "sys") }));
  assert.deepEqual(groups.map((g) => g.id), [0, 1, 2]);
  assert.deepEqual(groups[2], {
    id: 2,
    type: "DMA",
    name: undefined,
    members: [
      { name: "0000:00:04.0", driver: undefined },
      { name: "0000:01:01.0", driver: undefined },
      { name: "0000:01:02.0", driver: "e1000" },
    ],
  });
});

test("readIommuGroup() resolves undefined for a group that does not exist", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  assert.equal(await readIommuGroup(nodeSysfs({ root: join(tree.root, "sys") }), 99), undefined);
});
