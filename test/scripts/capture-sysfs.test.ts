import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readInventory } from "../../src/host/inventory.js";
import { nodeHostEnvironment } from "../../src/host/node-host-environment.js";
import { repoPath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../helpers/machine-tree.js";

// busybox sh where installed (what the guest runs), else the system sh.
const shell = existsSync("/usr/bin/busybox") ? ["/usr/bin/busybox", "sh"] : ["/bin/sh"];

test("capture-sysfs.sh copies a machine tree with relative symlinks that still resolve, and host/ reads the copy alike", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  const out = await mkdtemp(join(tmpdir(), "vfio-ts-capture-"));
  t.after(async () => {
    await tree.cleanup();
    await rm(out, { recursive: true, force: true });
  });
  const result = spawnSync(shell[0]!, [...shell.slice(1), repoPath("scripts/capture-sysfs.sh"), out, join(tree.root, "sys"), join(tree.root, "proc"), "/nonexistent-dev"], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  const dev = join(out, "sys/devices/pci0000:00/0000:00:04.0/0000:01:02.0");
  assert.equal(await readlink(join(dev, "driver")), "../../../../bus/pci/drivers/e1000");
  assert.ok((await stat(join(dev, "driver"))).isDirectory(), "driver link resolves inside the capture");
  assert.ok((await stat(join(dev, "iommu_group"))).isDirectory(), "iommu_group link resolves inside the capture");
  assert.equal(await readFile(join(out, "sys/kernel/iommu_groups/2/devices/0000:01:02.0/vendor"), "utf8"), "0x8086\n");
  assert.equal(await readFile(join(out, "sys/class/iommu/dmar0/intel-iommu/ecap"), "utf8"), "f0205e\n");
  assert.ok(existsSync(join(out, "sys/firmware/acpi/tables/DMAR")));
  assert.match(await readFile(join(out, "proc/cmdline"), "utf8"), /intel_iommu=on/);

  const original = await readInventory(nodeHostEnvironment({ root: tree.root }));
  const copy = await readInventory(nodeHostEnvironment({ root: out }));
  assert.deepEqual(copy.groups, original.groups);
  assert.deepEqual(copy.iommu, original.iommu);
});

test("capture-sysfs.sh refuses a directory that is not a sysfs tree with status 2", async (t) => {
  const out = await mkdtemp(join(tmpdir(), "vfio-ts-capture-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  const result = spawnSync(shell[0]!, [...shell.slice(1), repoPath("scripts/capture-sysfs.sh"), join(out, "x"), out], { encoding: "utf8" });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /is .* a mounted sysfs/);
});
