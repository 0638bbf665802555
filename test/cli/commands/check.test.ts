import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fixturePath, repoPath } from "../../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../../helpers/machine-tree.js";
import { vfio } from "../../helpers/run-cli.js";

const noIommu = fixturePath("sysfs/host-no-iommu");
const ids = ["--pci-ids", fixturePath("pci-ids/sample.ids")];

test("vfio check on the bridge group's edu: not ready (exit 1), unbind e1000 or bind it to vfio-pci, with the commands", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { status, stdout, stderr } = await vfio(["check", "01:01.0", "--sysfs", tree.root, ...ids]);
  assert.equal(status, 1);
  assert.equal(stderr, "");
  assert.match(stdout, /^0000:01:01\.0: not ready for VFIO\n/);
  assert.match(stdout, /group 2 is not viable: 0000:01:02\.0 is bound to e1000, a driver that claims kernel DMA/);
  // Every command names the machine inspected (--sysfs): copied, it acts on that tree, not on /sys.
  const sys = join(tree.root, "sys");
  assert.ok(stdout.includes(`unbind e1000 from 0000:01:02.0:\n      echo 0000:01:02.0 > ${sys}/bus/pci/devices/0000:01:02.0/driver/unbind`), stdout);
  // 'vfio bind' first, the raw sysfs writes as the alternative (review P1.6: check used to offer only the echoes).
  assert.ok(stdout.includes(`bind 0000:01:02.0 to vfio-pci (instead of e1000):\n      vfio bind --sysfs ${tree.root} 0000:01:02.0\n      or by hand`), stdout);
  assert.ok(stdout.includes(`\n        echo vfio-pci > ${sys}/bus/pci/devices/0000:01:02.0/driver_override`), stdout);
  assert.ok(!stdout.includes(" /sys/"), "no command points at the live /sys");
  assert.match(stdout, /> +0000:01:01\.0/);
});

test("vfio check on a ready device exits 0", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { status, stdout } = await vfio(["check", "0000:00:03.0", "--sysfs", tree.root, ...ids]);
  assert.equal(status, 0, stdout);
  assert.match(stdout, /ready for VFIO/);
});

test("vfio check --json carries the verdict and findings as data", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { status, stdout } = await vfio(["check", "2", "--json", "--sysfs", tree.root]);
  assert.equal(status, 1);
  const data = JSON.parse(stdout);
  assert.equal(data.ready, false);
  assert.deepEqual(data.target, { kind: "group", id: 2 });
  assert.equal(data.group.viable, false);
  assert.ok(data.findings.some((f: { code: string }) => f.code === "group-not-viable"));
  assert.equal(data.memlock.soft, 8388608);
});

test("vfio check on this machine (no IOMMU) says so and exits 1", async () => {
  const { status, stdout } = await vfio(["check", "00:03.0", "--sysfs", noIommu, ...ids]);
  assert.equal(status, 1);
  assert.match(stdout, /error: no IOMMU is active/);
});

const badInput: [string, string[], RegExp][] = [
  ["a malformed address", ["check", "01:2.0"], /'01:2\.0' is not a PCI address: write it as DDDD:BB:DD\.F/],
  ["a word", ["check", "eth0"], /is neither a PCI address nor an IOMMU group number/],
  ["an unknown device", ["check", "0000:09:00.0"], /no PCI device 0000:09:00\.0/],
  ["no target", ["check"], /expected one device or group/],
];
for (const [what, argv, message] of badInput) {
  test(`vfio check with ${what}: one line on stderr, exit 2, no stack trace`, async () => {
    const { status, stdout, stderr } = await vfio([...argv, "--sysfs", noIommu]);
    assert.equal(status, 2);
    assert.equal(stdout, "");
    assert.match(stderr, message);
    assert.equal(stderr.split("\n").length, 2, stderr);
    assert.ok(!/\n\s+at /.test(stderr));
  });
}

test("vfio check where reading sysfs is denied: one line, exit 2", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(async () => {
    await chmod(join(tree.root, "sys/devices/pci0000:00/0000:00:03.0"), 0o755);
    await tree.cleanup();
  });
  await chmod(tree.root, 0o755); // mkdtemp makes it 0700: let the other user reach the tree
  await chmod(join(tree.root, "sys/devices/pci0000:00/0000:00:03.0"), 0o000);
  // Root reads anything: run the CLI as nobody then. The checkout may sit under a directory
  // only its owner may enter (/root, mktemp -d: 0700), so load the CLI first and drop to
  // nobody only before it runs (setuid from root also drops every capability).
  const asRoot = process.getuid?.() === 0;
  const run = JSON.stringify(pathToFileURL(repoPath("dist/src/cli/run.js")).href);
  const source = `
    const { runCli } = await import(${run});
    if (${asRoot}) { process.setgid(65534); process.setuid(65534); }
    process.exitCode = await runCli(${JSON.stringify(["check", "00:03.0", "--sysfs", tree.root])}, { stdout: process.stdout, stderr: process.stderr, env: {} });
  `;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", source], { encoding: "utf8" });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^vfio check: permission denied reading .*0000:00:03\.0.*: run as root/);
  assert.equal(result.stderr.split("\n").length, 2);
});

test("vfio check 01:01.0 on the Linux 6.1 guest capture: not viable, unbind e1000 from 0000:01:02.0 or bind it to vfio-pci", async () => {
  const { status, stdout } = await vfio(["check", "01:01.0", "--sysfs", fixturePath("sysfs/guest-q35-e1000-bound"), ...ids]);
  assert.equal(status, 1);
  assert.match(stdout, /error: group 2 is not viable: 0000:01:02\.0 is bound to e1000/);
  const fixture = fixturePath("sysfs/guest-q35-e1000-bound");
  assert.ok(stdout.includes(`    unbind e1000 from 0000:01:02.0:\n      echo 0000:01:02.0 > ${fixture}/sys/bus/pci/devices/0000:01:02.0/driver/unbind\n   or:\n    bind 0000:01:02.0 to vfio-pci (instead of e1000):\n      vfio bind --sysfs ${fixture} 0000:01:02.0\n`), stdout);
  assert.equal((stdout.match(/^error:/gm) ?? []).length, 1, "the only problem is the group");
});

test("vfio check 01:01.0 on the guest capture with e1000 unbound: ready, exit 0", async () => {
  const { status, stdout } = await vfio(["check", "01:01.0", "--sysfs", fixturePath("sysfs/guest-q35-e1000-unbound"), ...ids]);
  assert.equal(status, 0, stdout);
  assert.match(stdout, /^0000:01:01\.0: ready for VFIO\n/);
});

test("vfio check shows the device's NUMA node, reset methods and SR-IOV links", async (t) => {
  const tree = await buildMachineTree({
    ...GUEST_LIKE,
    devices: [
      { address: "0000:03:00.0", vendor: 0x8086, device: 0x1521, classCode: 0x020000, driver: "igb", group: 10, numaNode: 1, resetMethod: "flr bus" },
      { address: "0000:03:10.0", vendor: 0x8086, device: 0x1520, classCode: 0x020000, driver: "vfio-pci", group: 11, physfn: "0000:03:00.0", resetMethod: "flr" },
    ],
    devVfio: "11 c 600 0 0\nvfio c 666 0 0\n",
  });
  t.after(tree.cleanup);
  const pf = await vfio(["check", "03:00.0", "--sysfs", tree.root, ...ids]);
  assert.match(pf.stdout, /NUMA node +1\n/);
  assert.match(pf.stdout, /reset +flr, bus\n/);
  assert.match(pf.stdout, /SR-IOV +physical function of 1 VF: 0000:03:10\.0\n/);
  const vf = await vfio(["check", "03:10.0", "--sysfs", tree.root, ...ids]);
  assert.equal(vf.status, 0, vf.stdout);
  assert.match(vf.stdout, /SR-IOV +virtual function of 0000:03:00\.0\n/);
});

test("vfio check with a --pci-ids file that does not exist, or two targets: one line, exit 2", async () => {
  for (const argv of [["check", "00:03.0", "--pci-ids", "/nonexistent/pci.ids"], ["check", "1", "2"]]) {
    const { status, stderr } = await vfio([...argv, "--sysfs", noIommu]);
    assert.equal(status, 2, argv.join(" "));
    assert.equal(stderr.split("\n").length, 2, stderr);
  }
});
