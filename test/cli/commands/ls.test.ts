import { test } from "node:test";
import assert from "node:assert/strict";
import { fixturePath } from "../../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../../helpers/machine-tree.js";
import { vfio } from "../../helpers/run-cli.js";

const noIommu = fixturePath("sysfs/host-no-iommu");
const ids = ["--pci-ids", fixturePath("pci-ids/sample.ids")];

test("vfio ls on this machine's capture says in one line that no IOMMU is active, then lists the PCI devices", async () => {
  const { status, stdout, stderr } = await vfio(["ls", "--sysfs", noIommu, ...ids]);
  assert.equal(status, 0);
  assert.equal(stderr, "");
  const lines = stdout.split("\n");
  assert.match(lines[0]!, /^No IOMMU is active: .*no DMAR or IVRS ACPI table/);
  for (const address of ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0", "0000:00:05.0"]) {
    assert.ok(lines.some((l) => l.startsWith(address)), `${address} listed`);
  }
  assert.match(stdout, /0000:00:03\.0 +1af4:1041 +Ethernet controller +Red Hat, Inc\. Virtio 1\.0 network device +virtio-pci/);
});

test("vfio ls shows each group's members and verdict, naming the blocker", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { status, stdout } = await vfio(["ls", "--sysfs", tree.root, ...ids]);
  assert.equal(status, 0);
  assert.match(stdout, /^IOMMU active \(dmar0\): 3 groups, interrupt remapping on\./);
  assert.match(stdout, /\n2 +no +0000:00:04\.0 +1b36:0001 +PCI bridge +Red Hat, Inc\. QEMU PCI-PCI bridge +-\n/);
  assert.match(stdout, /0000:01:02\.0 .*e1000 \(claims DMA\)/);
  assert.match(stdout, /Group 2 is not viable: 0000:01:02\.0 \(e1000\) claims kernel DMA/);
});

test("vfio ls --json gives groups, members and verdicts as data", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { status, stdout } = await vfio(["ls", "--json", "--sysfs", tree.root, ...ids]);
  assert.equal(status, 0);
  const data = JSON.parse(stdout);
  assert.equal(data.iommu.active, true);
  assert.deepEqual(data.groups.map((g: { id: number; viable: boolean }) => [g.id, g.viable]), [[0, true], [1, true], [2, false]]);
  assert.deepEqual(data.groups[2].blockers, [{ device: "0000:01:02.0", driver: "e1000" }]);
  assert.equal(data.groups[2].devices[2].deviceName, "82540EM Gigabit Ethernet Controller");
  assert.equal(data.devices.length, 5);
});

test("vfio ls colours only on a terminal, and not with NO_COLOR", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const args = ["ls", "--sysfs", tree.root, ...ids];
  assert.ok(!(await vfio(args)).stdout.includes("\x1b["));
  assert.ok((await vfio(args, { tty: true })).stdout.includes("\x1b["));
  assert.ok(!(await vfio(args, { tty: true, env: { NO_COLOR: "1" } })).stdout.includes("\x1b["));
});

test("vfio ls with a --sysfs directory that is not a sysfs tree: one line, exit 2", async () => {
  const { status, stdout, stderr } = await vfio(["ls", "--sysfs", fixturePath("pci-ids")]);
  assert.equal(status, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^vfio ls: --sysfs .* is not a sysfs tree .*\n$/);
});

test("vfio ls with an unknown option or an argument: one line, exit 2", async () => {
  for (const argv of [["ls", "--frobnicate"], ["ls", "extra"], ["ls", "--sysfs"]]) {
    const { status, stderr } = await vfio(argv);
    assert.equal(status, 2, argv.join(" "));
    assert.equal(stderr.split("\n").length, 2, `one line for ${argv.join(" ")}: ${stderr}`);
  }
});

test("vfio ls on the Linux 6.1 guest capture names every group and member, and the blocker", async () => {
  const { status, stdout } = await vfio(["ls", "--sysfs", fixturePath("sysfs/guest-q35-e1000-bound"), ...ids]);
  assert.equal(status, 0);
  assert.match(stdout, /^IOMMU active \(dmar0\): 8 groups, interrupt remapping on\.\n/);
  const rows = stdout.split("\n").filter((l) => /[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/.test(l) && !l.startsWith("Group"));
  const groupOf: Record<string, string> = {};
  let current = "";
  for (const row of rows) {
    const [first, ...rest] = row.trim().split(/\s+/);
    if (/^\d+$/.test(first!)) current = first!;
    groupOf[/^\d+$/.test(first!) ? rest[1]! : first!] = current;
  }
  assert.deepEqual(groupOf, {
    "0000:00:00.0": "0", "0000:00:03.0": "1", "0000:00:04.0": "2", "0000:01:01.0": "2", "0000:01:02.0": "2",
    "0000:00:05.0": "3", "0000:00:06.0": "4", "0000:00:07.0": "5",
    "0000:00:1f.0": "6", "0000:00:1f.2": "6", "0000:00:1f.3": "6", "0000:02:00.0": "7",
  });
  assert.match(stdout, /\n2 +no +0000:00:04\.0/);
  assert.match(stdout, /0000:01:02\.0 +8086:100e +Ethernet controller +Intel Corporation 82540EM Gigabit Ethernet Controller +e1000 \(claims DMA\)/);
  assert.match(stdout, /Group 2 is not viable: 0000:01:02\.0 \(e1000\)/);
});

test("vfio ls without pci.ids names classes from the built-in table and leaves names out", async () => {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(`${tmpdir()}/vfio-ts-ids-`);
  try {
    await writeFile(`${dir}/empty.ids`, "# nothing\n");
    const { stdout } = await vfio(["ls", "--sysfs", fixturePath("sysfs/guest-q35-e1000-bound"), "--pci-ids", `${dir}/empty.ids`]);
    assert.match(stdout, /0000:01:02\.0 +8086:100e +Ethernet controller +- +e1000/);
    assert.match(stdout, /0000:00:04\.0 +1b36:0001 +PCI bridge +- +-/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
