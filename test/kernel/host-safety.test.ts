// bind's safety checks against the real Linux 6.1 sysfs and procfs of the test guest: the
// repository reaches the guest over virtio-9p (00:07.0, mount_tag "repo", mounted on /repo by
// scripts/guest/init), so binding that device would pull the guest's own files away. Outside
// the guest every test is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { runCli } from "../../src/cli/run.js";
import { bind } from "../../src/cli/commands/bind.js";
import { checkDevices } from "../../src/host/safety-checks.js";
import { nodeHostProbe } from "../../src/host/host-probe.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { checkCommand as check } from "../../src/cli/commands/check.js";
import { lsCommand as ls } from "../../src/cli/commands/ls.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { EDU, EDU2, groupOf, skip } from "./guest.js";

const SHARE = "0000:00:07.0";

test("the guest's 9p share is mounted: bind's checks find it through the virtio device's mount_tag", { skip }, async () => {
  assert.match(readFileSync("/proc/self/mountinfo", "utf8"), / - 9p repo /, "the repository share is mounted");
  const findings = await checkDevices(nodeSysfs(), nodeHostProbe(), [SHARE]);
  assert.deepEqual(findings.map((f) => [f.code, "tag" in f ? f.tag : ""]), [["share-mounted", "repo"]]);
  // Nothing else hangs off the edu next to it.
  assert.deepEqual(await checkDevices(nodeSysfs(), nodeHostProbe(), ["0000:00:03.0"]), []);
});

function captured() {
  let out = "";
  let err = "";
  return { io: { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} }, out: () => out, err: () => err };
}

test("vfio check is not ready while a process holds the group open, and names it; vfio ls shows it", { skip }, async () => {
  const system = new KernelSystem();
  const group = await system.openGroup(groupOf(EDU2));
  try {
    const held = captured();
    assert.equal(await runCli(["check", "--json", EDU2], held.io, [check]), 1, held.err());
    const report = JSON.parse(held.out()) as { ready: boolean; findings: { code: string; openers?: string[] }[] };
    const open = report.findings.find((f) => f.code === "group-open");
    assert.deepEqual(open?.openers, [`${process.pid} (node)`]);
    const listed = captured();
    assert.equal(await runCli(["ls", "--json"], listed.io, [ls]), 0);
    const groups = (JSON.parse(listed.out()) as { groups: { id: number; openers: string[] }[] }).groups;
    assert.deepEqual(groups.find((g) => g.id === groupOf(EDU2))?.openers, [`${process.pid} (node)`]);
  } finally {
    await group.close();
  }
  const free = captured();
  assert.equal(await runCli(["check", EDU2], free.io, [check]), 0, free.out());
});

test("vfio check warns that the root-bus edu cannot be reset: Linux 6.1 shows it no reset_method", { skip }, async () => {
  assert.equal(existsSync(`/sys/bus/pci/devices/${EDU}/reset_method`), false);
  const c = captured();
  await runCli(["check", "--json", EDU], c.io, [check]);
  const report = JSON.parse(c.out()) as { findings: { code: string }[]; members: { target: boolean; pci: { resetMethods: string[] | null } }[] };
  assert.ok(report.findings.some((f) => f.code === "no-reset"), c.out());
  assert.deepEqual(report.members.find((m) => m.target)?.pci.resetMethods, []);
});

test("vfio bind --dry-run 0000:00:07.0 says a real run refuses, because the share is mounted; nothing changes", { skip }, async () => {
  const driver = () => readFileSync(`/sys/bus/pci/devices/${SHARE}/driver_override`, "utf8");
  const before = driver();
  let out = "";
  let err = "";
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} };
  assert.equal(await runCli(["bind", "--dry-run", SHARE], io, [bind]), 0, err);
  assert.match(err, /refused: 0000:00:07\.0: 9p share 'repo' \(virtio\d+\) is mounted on \/repo/);
  assert.match(err, /a real run refuses/);
  assert.match(out, /0000:00:07\.0 +bind/);
  assert.equal(driver(), before);
});
