// Who holds a VFIO group open, as a capture records it (proc/<pid>/fd/<n> -> /dev/vfio/<group>,
// proc/<pid>/comm): vfio check is not ready, vfio ls names the process, passthrough refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildMachineTree, GUEST_LIKE } from "../../helpers/machine-tree.js";
import { vfio } from "../../helpers/run-cli.js";

async function heldByQemu(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  await mkdir(join(tree.root, "proc/4242/fd"), { recursive: true });
  await writeFile(join(tree.root, "proc/4242/comm"), "qemu-system-x86\n");
  await symlink("/dev/vfio/1", join(tree.root, "proc/4242/fd/17"));
  return tree.root;
}

test("vfio check is not ready while a process holds the group, and names it", async (t) => {
  const root = await heldByQemu(t);
  const { status, stdout } = await vfio(["check", "--sysfs", root, "00:03.0"]);
  assert.equal(status, 1, stdout);
  assert.match(stdout, /^0000:00:03\.0: not ready for VFIO$/m);
  assert.match(stdout, /error: group 1 is open by 4242 \(qemu-system-x86\)/);
});

test("vfio ls shows who holds a group; --json gives the openers per group", async (t) => {
  const root = await heldByQemu(t);
  const text = await vfio(["ls", "--sysfs", root]);
  assert.match(text.stdout, /Group 1 is open by 4242 \(qemu-system-x86\)/);
  const data = JSON.parse((await vfio(["ls", "--json", "--sysfs", root])).stdout) as { groups: { id: number; openers: string[] }[] };
  assert.deepEqual(data.groups.map((g) => [g.id, g.openers]), [[0, []], [1, ["4242 (qemu-system-x86)"]], [2, []]]);
});

test("vfio passthrough refuses a held group unless --force; suggestions name the machine", async (t) => {
  const root = await heldByQemu(t);
  const refused = await vfio(["passthrough", "--qemu", "--sysfs", root, "00:03.0"]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stdout, "");
  assert.equal((await vfio(["passthrough", "--qemu", "--force", "--sysfs", root, "00:03.0"])).status, 0);
  const missing = await vfio(["check", "--sysfs", root, "00:1c.0"]);
  assert.equal(missing.status, 2);
  assert.ok(missing.stderr.includes(`run 'vfio ls --sysfs ${root}' to see the devices`), missing.stderr);
});
