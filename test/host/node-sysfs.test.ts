import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { fixturePath } from "../helpers/fixtures.js";

const root = fixturePath("sysfs/host-no-iommu/sys");

test("nodeSysfs() reads attributes through the bus/pci/devices symlinks", async () => {
  const sysfs = nodeSysfs({ root });
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/vendor"), "0x1af4\n");
});

test("nodeSysfs() read/list/readlink resolve undefined for what is not there", async () => {
  const sysfs = nodeSysfs({ root });
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/boot_vga"), undefined);
  assert.equal(await sysfs.list("bus/pci/devices/0000:09:00.0"), undefined);
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:00:00.0/driver"), undefined);
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:00:03.0/vendor"), undefined, "not a symlink");
});

test("nodeSysfs() readlink() gives the relative target as written", async () => {
  const sysfs = nodeSysfs({ root });
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:00:03.0/driver"), "../../../bus/pci/drivers/virtio-pci");
});

test("nodeSysfs() list() leaves out the fixtures' .keep placeholders", async () => {
  const sysfs = nodeSysfs({ root });
  assert.deepEqual(await sysfs.list("kernel/iommu_groups"), []);
});

test("nodeSysfs() refuses paths that climb out of the root", async () => {
  const sysfs = nodeSysfs({ root });
  await assert.rejects(sysfs.read("../proc/cmdline"), { name: "VfioUsageError", code: "EINVAL" });
});

test("nodeSysfs() turns permission denied into a usage error coded EACCES", { skip: process.getuid?.() === 0 && "root reads files whatever their mode" }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "vfio-ts-sysfs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "secret"), "x");
  await chmod(join(dir, "secret"), 0);
  await assert.rejects(nodeSysfs({ root: dir }).read("secret"), { name: "VfioUsageError", code: "EACCES" });
});

test("nodeSysfs() write() rejects with the errno the write got", async () => {
  await assert.rejects(nodeSysfs({ root: "/nonexistent-vfio-ts" }).write("bus/pci/drivers_probe", "0000:00:03.0"), {
    name: "VfioSystemError",
    code: "ENOENT",
    op: "sysfs write",
  });
});
