// vfio passthrough makes vfio check's readiness checks before it prints anything: interrupt
// remapping (VFIO refuses the group with EPERM without it, and QEMU then fails with "Failed
// to set iommu for container"), /dev/vfio access, RLIMIT_MEMLOCK and huge pages for the VM's
// memory; and the commands it suggests name the machine it looked at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildMachineTree, GUEST_LIKE, PLAIN_INTERRUPTS, type TreeSpec } from "../../helpers/machine-tree.js";
import { vfio } from "../../helpers/run-cli.js";

async function tree(t: { after(fn: () => Promise<void>): void }, spec: TreeSpec): Promise<string> {
  const built = await buildMachineTree(spec);
  t.after(built.cleanup);
  return built.root;
}

test("vfio passthrough refuses what vfio check refuses: interrupt remapping off", async (t) => {
  const root = await tree(t, { ...GUEST_LIKE, interrupts: PLAIN_INTERRUPTS });
  const check = await vfio(["check", "--sysfs", root, "00:03.0"]);
  assert.equal(check.status, 1);
  const { status, stdout, stderr } = await vfio(["passthrough", "--qemu", "--sysfs", root, "00:03.0"]);
  assert.equal(status, 1, stderr);
  assert.equal(stdout, "");
  assert.match(stderr, /error: interrupt remapping is off/);
  assert.match(stderr, new RegExp(`'vfio check --sysfs ${root} 0000:00:03\\.0' says more`));
  // With remapping on, the same device passes.
  const ok = await vfio(["passthrough", "--qemu", "--sysfs", await tree(t, GUEST_LIKE), "00:03.0"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, "-device vfio-pci,host=0000:00:03.0,id=hostdev0\n");
});

const user: TreeSpec = {
  ...GUEST_LIKE,
  status: "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t\n",
  devVfio: "1 c 666 0 0\nvfio c 666 0 0\n",
};

test("vfio passthrough --memory: a non-root user's RLIMIT_MEMLOCK must cover the VM's memory (QEMU pins all of it)", async (t) => {
  const root = await tree(t, user);
  const small = await vfio(["passthrough", "--qemu", "--sysfs", root, "--memory", "4G", "00:03.0"]);
  assert.equal(small.status, 1, small.stderr);
  assert.match(small.stderr, /error: RLIMIT_MEMLOCK is 8 MiB, below the VM's 4 GiB/);
  // 8 MiB of memlock covers a VM of 8 MiB; no --memory: nothing to compare.
  assert.equal((await vfio(["passthrough", "--qemu", "--sysfs", root, "--memory", "8M", "00:03.0"])).status, 0);
  assert.equal((await vfio(["passthrough", "--qemu", "--sysfs", root, "00:03.0"])).status, 0);
  // libvirt raises the limit for the VM itself.
  assert.equal((await vfio(["passthrough", "--libvirt", "--sysfs", root, "--memory", "4G", "00:03.0"])).status, 0);
  // /dev/vfio/1 closed to this user: QEMU run by this user cannot open it; libvirt labels it for the VM's user.
  const closed = await tree(t, { ...user, devVfio: "1 c 600 0 0\nvfio c 666 0 0\n" });
  const denied = await vfio(["passthrough", "--qemu", "--sysfs", closed, "00:03.0"]);
  assert.equal(denied.status, 1);
  assert.match(denied.stderr, /error: \/dev\/vfio\/1 \(mode 0600, owner 0:0\)/);
  assert.equal((await vfio(["passthrough", "--libvirt", "--sysfs", closed, "00:03.0"])).status, 0);
  assert.equal((await vfio(["passthrough", "--qemu", "--sysfs", root, "--memory", "lots", "00:03.0"])).status, 2);
  assert.equal((await vfio(["passthrough", "--qemu", "--sysfs", root, "--hugepages", "00:03.0"])).status, 2);
});

test("vfio passthrough --memory --hugepages: enough huge pages must be free", async (t) => {
  const root = await tree(t, GUEST_LIKE);
  const pool = join(root, "sys/kernel/mm/hugepages/hugepages-2048kB");
  await mkdir(pool, { recursive: true });
  await writeFile(join(pool, "free_hugepages"), "512\n");
  const short = await vfio(["passthrough", "--qemu", "--sysfs", root, "--memory", "4G", "--hugepages", "00:03.0"]);
  assert.equal(short.status, 1);
  assert.match(short.stderr, /error: 1 GiB of huge pages free, below the VM's 4 GiB/);
  assert.equal((await vfio(["passthrough", "--qemu", "--sysfs", root, "--memory", "1G", "--hugepages", "00:03.0"])).status, 0);
});

test("vfio passthrough, bind and restore take --emulated; bind and restore carry over through --journal", async (t) => {
  const pass = await vfio(["passthrough", "--emulated", "--qemu", "0000:00:03.0"]);
  assert.equal(pass.status, 0, pass.stderr);
  assert.equal(pass.stdout, "-device vfio-pci,host=0000:00:03.0,id=hostdev0\n");
  const refused = await vfio(["passthrough", "--emulated", "--qemu", "0000:01:01.0"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /vfio bind --emulated 0000:01:02\.0\n/);

  const dir = await tree(t, { devices: [] });
  const journal = join(dir, "journal.json");
  const bound = await vfio(["bind", "--emulated", "--journal", journal, "0000:01:01.0"]);
  assert.equal(bound.status, 0, bound.stderr);
  assert.match(bound.stdout, new RegExp(`'vfio restore --emulated --journal ${journal}' puts them back`));
  // The next command's emulated machine starts as the journal left it: e1000 is on vfio-pci.
  const again = await vfio(["bind", "--emulated", "--journal", journal, "--dry-run", "0000:01:01.0"]);
  assert.match(again.stdout, /0000:01:02\.0 +already-bound/);
  assert.match(again.stdout, /Nothing to do\./);
  const fresh = await vfio(["bind", "--emulated", "--dry-run", "0000:01:01.0"]);
  assert.match(fresh.stdout, /0000:01:02\.0 +bind +moves from e1000/, "without the journal: a fresh machine");
  const restored = await vfio(["restore", "--emulated", "--journal", journal]);
  assert.equal(restored.status, 0, restored.stderr);
  assert.match(restored.stdout, /Restored 0000:01:02\.0 to e1000/);
  assert.equal((await vfio(["bind", "--emulated", "--persist", "0000:01:01.0"])).status, 2);
});

test("vfio check and ls --emulated suggest commands for the emulated machine, never raw writes to the live /sys", async () => {
  const check = await vfio(["check", "--emulated", "01:01.0"]);
  assert.equal(check.status, 1);
  assert.match(check.stdout, /^ {6}vfio bind --emulated 0000:01:02\.0$/m);
  assert.ok(!check.stdout.includes("/sys"), check.stdout);
  const ls = await vfio(["ls", "--emulated"]);
  assert.match(ls.stdout, /'vfio check --emulated 2' says how to fix it/);
});
