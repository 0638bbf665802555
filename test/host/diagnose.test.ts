import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnose, parseCheckTarget, type Finding } from "../../src/host/diagnose.js";
import { nodeHostEnvironment } from "../../src/host/node-host-environment.js";
import { parsePciAddress } from "../../src/api/pci-address.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE, PLAIN_INTERRUPTS, type TreeSpec } from "../helpers/machine-tree.js";

async function check(t: { after(fn: () => Promise<void>): void }, spec: TreeSpec, target: string) {
  const tree = await buildMachineTree(spec);
  t.after(tree.cleanup);
  return diagnose(nodeHostEnvironment({ root: tree.root }), parseCheckTarget(target));
}

const codes = (findings: readonly Finding[]) => findings.map((f) => f.code);

test("parseCheckTarget() takes a group number or a PCI address, and rejects the rest", () => {
  assert.deepEqual(parseCheckTarget("12"), { kind: "group", id: 12 });
  assert.deepEqual(parseCheckTarget("01:00.0"), { kind: "device", address: "0000:01:00.0" });
  assert.throws(() => parseCheckTarget("eth0"), { name: "VfioUsageError", code: "EINVAL" });
});

test("diagnose() an edu alone in its group, bound to vfio-pci, as root: ready", async (t) => {
  const report = await check(t, GUEST_LIKE, "00:03.0");
  assert.deepEqual(codes(report.findings), ["no-reset"]);
  assert.equal(report.ready, true);
  assert.equal(report.group?.id, 1);
  assert.equal(report.devVfio.group?.name, "1");
});

test("diagnose() reads a missing reset_method as 'none' from Linux 5.15 (which hides it then) and as unknown before", async (t) => {
  const old = await check(t, { ...GUEST_LIKE, osrelease: "5.10.0-30-amd64" }, "00:03.0");
  assert.equal(codes(old.findings).includes("no-reset"), false);
  assert.equal(old.members[0]?.pci?.resetMethods, undefined);
  const resettable = await check(t, { ...GUEST_LIKE, devices: GUEST_LIKE.devices.map((d) => (d.address === "0000:00:03.0" ? { ...d, resetMethod: "flr" } : d)) }, "00:03.0");
  assert.deepEqual(codes(resettable.findings), []);
});

test("diagnose() the edu behind the bridge: not viable because of e1000, fix is unbind or bind to vfio-pci", async (t) => {
  const report = await check(t, GUEST_LIKE, "0000:01:01.0");
  assert.equal(report.ready, false);
  assert.equal(report.viability?.viable, false);
  const notViable = report.findings.find((f) => f.code === "group-not-viable");
  assert.ok(notViable && notViable.code === "group-not-viable");
  assert.deepEqual(notViable.blockers, [{ device: "0000:01:02.0", driver: "e1000" }]);
  assert.deepEqual(notViable.fixes[0]!.map((a) => a.kind), ["unbind", "bind-vfio-pci"]);
  assert.deepEqual(notViable.fixes[0]![0]!.commands, ["echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind"]);
  // The edu itself is unbound: it must be bound to vfio-pci too.
  const bind = report.findings.find((f) => f.code === "not-bound-to-vfio");
  assert.ok(bind && bind.code === "not-bound-to-vfio");
  assert.equal(bind.device, "0000:01:01.0");
  assert.deepEqual(report.members.map((m) => [m.name, m.blocks, m.isTarget]), [
    ["0000:00:04.0", false, false],
    ["0000:01:01.0", false, true],
    ["0000:01:02.0", true, false],
  ]);
});

test("diagnose() a group target names the group's blockers", async (t) => {
  const report = await check(t, GUEST_LIKE, "2");
  assert.equal(report.ready, false);
  assert.ok(codes(report.findings).includes("group-not-viable"));
});

test("diagnose() with interrupt remapping off is not ready (type1 refuses the group with EPERM)", async (t) => {
  const report = await check(t, { ...GUEST_LIKE, interrupts: PLAIN_INTERRUPTS }, "00:03.0");
  assert.equal(report.ready, false);
  const ir = report.findings.find((f) => f.code === "interrupt-remapping-off");
  assert.equal(ir?.severity, "error");
});

test("diagnose() with allow_unsafe_interrupts=Y only warns about remapping", async (t) => {
  const report = await check(t, { ...GUEST_LIKE, interrupts: PLAIN_INTERRUPTS, allowUnsafeInterrupts: true }, "00:03.0");
  assert.equal(report.findings.find((f) => f.code === "interrupt-remapping-off")?.severity, "warning");
  assert.equal(report.ready, true);
});

test("diagnose() as a user without access to /dev/vfio/1, with 8 MiB memlock: denied, memlock warned", async (t) => {
  const report = await check(t, { ...GUEST_LIKE, status: "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t1000\n" }, "00:03.0");
  assert.equal(report.ready, false);
  const denied = report.findings.filter((f) => f.code === "dev-vfio-denied");
  assert.deepEqual(denied.map((f) => f.code === "dev-vfio-denied" && f.path), ["/dev/vfio/1"], "/dev/vfio/vfio is 0666");
  const memlock = report.findings.find((f) => f.code === "memlock-low");
  assert.equal(memlock?.code === "memlock-low" && memlock.limit, 8388608n);
});

test("diagnose() a device bound to vfio-pci whose /dev/vfio node is missing", async (t) => {
  const report = await check(t, { ...GUEST_LIKE, devVfio: "vfio c 666 0 0\n" }, "00:03.0");
  assert.deepEqual(codes(report.findings).filter((c) => c.startsWith("dev-vfio")), ["dev-vfio-missing"]);
});

test("diagnose() without vfio-pci loaded says to load it", async (t) => {
  const spec: TreeSpec = { ...GUEST_LIKE, devices: GUEST_LIKE.devices.map(({ driver, ...rest }) => (driver === "vfio-pci" ? rest : { ...rest, ...(driver === undefined ? {} : { driver }) })) };
  const report = await check(t, spec, "00:03.0");
  assert.deepEqual(codes(report.findings).slice(0, 2), ["vfio-module-missing", "not-bound-to-vfio"]);
});

test("diagnose() on this machine (no IOMMU) says only that, not to bind; its virtio NIC has no reset method (Linux 6.18 shows no reset_method)", async () => {
  const env = nodeHostEnvironment({ root: fixturePath("sysfs/host-no-iommu") });
  const report = await diagnose(env, { kind: "device", address: parsePciAddress("00:03.0") });
  assert.deepEqual(codes(report.findings), ["iommu-inactive", "no-reset"]);
  assert.deepEqual(report.members[0]?.pci?.resetMethods, []);
  assert.equal(report.ready, false);
});

test("diagnose() rejects a device or group that does not exist with a usage error coded ENOENT; a group where no IOMMU is active, ENODEV", async () => {
  const env = nodeHostEnvironment({ root: fixturePath("sysfs/host-no-iommu") });
  await assert.rejects(diagnose(env, { kind: "device", address: parsePciAddress("09:00.0") }), { name: "VfioUsageError", code: "ENOENT" });
  await assert.rejects(diagnose(env, { kind: "group", id: 3 }), { name: "VfioError", code: "ENODEV" });
  const guest = nodeHostEnvironment({ root: fixturePath("sysfs/guest-q35-e1000-bound") });
  await assert.rejects(diagnose(guest, { kind: "group", id: 42 }), { name: "VfioUsageError", code: "ENOENT" });
});

test("diagnose() on the Linux 6.1 guest capture with e1000 bound: the bridge group is not viable, fix e1000 at 01:02.0", async () => {
  const env = nodeHostEnvironment({ root: fixturePath("sysfs/guest-q35-e1000-bound") });
  const report = await diagnose(env, parseCheckTarget("0000:01:01.0"));
  assert.equal(report.ready, false);
  assert.deepEqual(codes(report.findings.filter((f) => f.severity === "error")), ["group-not-viable"]);
  const finding = report.findings[0];
  assert.ok(finding?.code === "group-not-viable");
  assert.equal(finding.group, 2);
  assert.deepEqual(finding.blockers, [{ device: "0000:01:02.0", driver: "e1000" }]);
  assert.deepEqual(finding.fixes, [[
    { kind: "unbind", device: "0000:01:02.0", driver: "e1000", commands: ["echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind"] },
    {
      kind: "bind-vfio-pci",
      device: "0000:01:02.0",
      from: "e1000",
      commands: [
        "echo vfio-pci > /sys/bus/pci/devices/0000:01:02.0/driver_override",
        "echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind",
        "echo 0000:01:02.0 > /sys/bus/pci/drivers_probe",
      ],
      vfio: "vfio bind 0000:01:02.0",
    },
  ]]);
  assert.equal(report.devVfio.group?.name, "2");
});

test("diagnose() on the Linux 6.1 guest capture with e1000 unbound: the edu behind the bridge is ready", async () => {
  const env = nodeHostEnvironment({ root: fixturePath("sysfs/guest-q35-e1000-unbound") });
  const report = await diagnose(env, parseCheckTarget("01:01.0"));
  assert.deepEqual(report.findings.filter((f) => f.severity === "error"), []);
  assert.equal(report.ready, true);
});

test("diagnose() warns that the verdict follows 5.19+ rules on an older kernel, and reports the release", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const { mkdir, writeFile } = await import("node:fs/promises");
  await mkdir(`${tree.root}/proc/sys/kernel`, { recursive: true });
  await writeFile(`${tree.root}/proc/sys/kernel/osrelease`, "5.10.0-28-amd64\n");
  const report = await diagnose(nodeHostEnvironment({ root: tree.root }), parseCheckTarget("00:03.0"));
  assert.equal(report.kernelRelease, "5.10.0-28-amd64");
  assert.ok(codes(report.findings).includes("kernel-before-dma-ownership"));
});

test("diagnose() on the guest capture reports its Linux 6.1 release and no kernel warning", async () => {
  const report = await diagnose(nodeHostEnvironment({ root: fixturePath("sysfs/guest-q35-e1000-unbound") }), parseCheckTarget("00:03.0"));
  assert.match(report.kernelRelease ?? "", /^6\.1\./);
  assert.ok(!codes(report.findings).includes("kernel-before-dma-ownership"));
});

test("diagnose() is not ready while a process holds /dev/vfio/<group> open, and names it", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const asked: string[] = [];
  const openers = async (path: string) => {
    asked.push(path);
    return path === "/dev/vfio/1" ? ["4242 (qemu-system-x86)"] : [];
  };
  const held = await diagnose(nodeHostEnvironment({ root: tree.root }), parseCheckTarget("00:03.0"), { openers });
  assert.equal(held.ready, false);
  assert.deepEqual(held.findings.filter((f) => f.code === "group-open").map((f) => f.code === "group-open" && f.openers), [["4242 (qemu-system-x86)"]]);
  assert.deepEqual(asked, ["/dev/vfio/1"]);
  const free = await diagnose(nodeHostEnvironment({ root: tree.root }), parseCheckTarget("01:01.0"), { openers });
  assert.equal(free.findings.some((f) => f.code === "group-open"), false);
});
