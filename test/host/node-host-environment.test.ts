import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostEnvironmentForSysfs, nodeHostEnvironment, resolveSysfsRoot } from "../../src/host/node-host-environment.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../helpers/machine-tree.js";

const fixture = fixturePath("sysfs/host-no-iommu");

test("nodeHostEnvironment() reads a fixture's procfs files", async () => {
  const env = nodeHostEnvironment({ root: fixture });
  assert.match((await env.readProc("self/limits")) ?? "", /Max locked memory/);
  assert.equal(await env.readProc("no-such-file"), undefined);
});

test("nodeHostEnvironment() lists /dev/vfio from a fixture's dev/vfio.list", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const nodes = await nodeHostEnvironment({ root: tree.root }).listDevVfio();
  assert.deepEqual(nodes, [
    { name: "1", type: "c", mode: 0o600, uid: 0, gid: 0 },
    { name: "vfio", type: "c", mode: 0o666, uid: 0, gid: 0 },
  ]);
});

test("nodeHostEnvironment() reports no /dev/vfio when the fixture has none", async () => {
  assert.equal(await nodeHostEnvironment({ root: fixture }).listDevVfio(), undefined);
});

test("hostEnvironmentForSysfs() accepts a fixture directory or its sys/ tree", async () => {
  for (const dir of [fixture, `${fixture}/sys`, `${fixture}/sys/`]) {
    const env = await hostEnvironmentForSysfs(dir);
    assert.ok((await env.sysfs.list("bus/pci/devices"))?.includes("0000:00:03.0"), dir);
    assert.notEqual(await env.readProc("cmdline"), undefined, `${dir}: proc beside sys is used`);
  }
});

test("hostEnvironmentForSysfs() takes a bare sysfs tree and knows no procfs for it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "vfio-ts-bare-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, "tree", "bus", "pci", "devices"), { recursive: true });
  const env = await hostEnvironmentForSysfs(join(dir, "tree"));
  assert.deepEqual(await env.sysfs.list("bus/pci/devices"), []);
  assert.equal(await env.readProc("cmdline"), undefined);
  assert.equal(await env.listDevVfio(), undefined);
});

test("hostEnvironmentForSysfs() rejects a directory that is not a sysfs tree with ENOTSYSFS", async () => {
  await assert.rejects(hostEnvironmentForSysfs(fixturePath("pci-ids")), { name: "VfioUsageError", code: "ENOTSYSFS" });
  await assert.rejects(hostEnvironmentForSysfs("/nonexistent-vfio-ts"), { name: "VfioUsageError", code: "ENOTSYSFS" });
});

test("resolveSysfsRoot() gives one meaning to --sysfs: a capture root, its sys/ and sys/ with a slash lead to the same tree", async () => {
  const expected = { sys: join(fixture, "sys"), machine: fixture };
  assert.deepEqual(await resolveSysfsRoot(fixture), expected);
  assert.deepEqual(await resolveSysfsRoot(join(fixture, "sys")), expected);
  assert.deepEqual(await resolveSysfsRoot(`${join(fixture, "sys")}/`), expected);
  for (const dir of ["", "/nonexistent-vfio-ts", fixturePath("pci-ids")]) {
    await assert.rejects(resolveSysfsRoot(dir), { name: "VfioUsageError", code: "ENOTSYSFS" }, dir);
  }
});
