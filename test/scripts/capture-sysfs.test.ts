import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { readInventory } from "../../src/host/inventory.js";
import { capturedHostProbe } from "../../src/host/host-probe.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { checkDevices } from "../../src/host/safety-checks.js";
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

test("capture-sysfs.sh records what hangs off the devices and who holds /dev/vfio: bind's checks find the same in the copy", async (t) => {
  const tree = await buildMachineTree({
    ...GUEST_LIKE,
    devices: [...GUEST_LIKE.devices, { address: "0000:00:05.0", vendor: 0x1af4, device: 0x1041, classCode: 0x020000, group: 3, driver: "virtio-pci" }],
  });
  const out = await mkdtemp(join(tmpdir(), "vfio-ts-capture-"));
  t.after(async () => {
    await tree.cleanup();
    await rm(out, { recursive: true, force: true });
  });
  const sys = join(tree.root, "sys");
  const put = async (path: string, text: string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  };
  const link = async (path: string, target: string) => {
    await mkdir(dirname(path), { recursive: true });
    await symlink(target, path);
  };
  const nic = "devices/pci0000:00/0000:00:05.0/virtio1";
  await put(join(sys, nic, "net/eth0/flags"), "0x1003\n");
  await put(join(sys, nic, "net/eth0/operstate"), "up\n");
  await put(join(sys, nic, "mount_tag"), "repo\0");
  await link(join(sys, "class/net/eth0"), `../../${nic}/net/eth0`);
  await link(join(sys, "bus/virtio/devices/virtio1"), `../../../${nic}`);
  await put(join(sys, nic, "block/vda/dev"), "254:0\n");
  await link(join(sys, "class/block/vda"), `../../${nic}/block/vda`);
  await link(join(sys, "dev/block/254:0"), `../../${nic}/block/vda`);
  await put(join(tree.root, "proc/self/mountinfo"), "27 1 254:0 / / rw - ext4 /dev/vda rw\n30 27 0:45 / /repo rw - 9p repo rw,trans=virtio\n");
  await put(join(tree.root, "proc/net/route"), "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
  await put(join(tree.root, "proc/4242/comm"), "qemu-system-x86\n");
  await link(join(tree.root, "proc/4242/fd/17"), "/dev/vfio/1");
  await link(join(tree.root, "proc/4242/fd/3"), "/dev/null");
  const result = spawnSync(shell[0]!, [...shell.slice(1), repoPath("scripts/capture-sysfs.sh"), out, sys, join(tree.root, "proc"), "/nonexistent-dev"], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(await readFile(join(out, "proc/4242/comm"), "utf8"), "qemu-system-x86\n");
  assert.equal(existsSync(join(out, "proc/4242/fd/3")), false, "only the fds on /dev/vfio");

  const findings = async (root: string) =>
    (await checkDevices(nodeSysfs({ root: join(root, "sys") }), capturedHostProbe(join(root, "proc")), ["0000:00:05.0"])).map((f) => f.code);
  assert.deepEqual(await findings(out), ["net-up", "net-routes", "block-mounted", "share-mounted"]);
  assert.deepEqual(await findings(out), await findings(tree.root));
  assert.deepEqual(await capturedHostProbe(join(out, "proc")).openers("/dev/vfio/1"), ["4242 (qemu-system-x86)"]);
});
