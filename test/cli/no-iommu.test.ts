/**
 * A machine without an active IOMMU, as every command meets it: one wording (api/no-iommu.ts)
 * and one exit status, 1, the machine's state rather than a mistake in the command. `vfio ls`
 * lists the devices and says why there are no groups, exit 0: listing is what it was asked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { NO_IOMMU_ADVICE, noIommuText } from "../../src/api/no-iommu.js";
import { infoCommand } from "../../src/cli/commands/info.js";
import { runCli } from "../../src/cli/run.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { ScriptedLibc } from "../kernel/scripted-libc.js";
import { fixturePath } from "../helpers/fixtures.js";
import { vfio } from "../helpers/run-cli.js";

const machine = fixturePath("sysfs/host-no-iommu");
const device = "0000:00:02.0";

test("bind, passthrough and info of a device without a group: one wording, exit 1", async () => {
  const runs = [
    ["bind", await vfio(["bind", "--dry-run", "--sysfs", machine, device])],
    ["passthrough", await vfio(["passthrough", "--qemu", "--sysfs", machine, device])],
  ] as const;
  let out = "";
  let err = "";
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} };
  const info = infoCommand(() => new KernelSystem({ libc: new ScriptedLibc(), sysfs: nodeSysfs({ root: `${machine}/sys` }) }));
  const infoStatus = await runCli(["info", device], io, [info]);
  for (const [name, c] of [...runs, ["info", { status: infoStatus, stderr: err }] as const]) {
    assert.equal(c.status, 1, `${name}: ${c.stderr}`);
    // passthrough runs check's diagnosis first, which knows the cause; the others say what to do.
    if (name === "passthrough") assert.match(c.stderr, /^error: no IOMMU is active: the firmware describes no IOMMU/);
    else assert.equal(c.stderr, `vfio ${name}: ${device} has no IOMMU group: ${noIommuText()}\n`);
  }
  assert.equal(out, "");
});

test("check of a device or a group on that machine says no IOMMU is active and why, exit 1", async () => {
  const group = await vfio(["check", "--sysfs", machine, "1"]);
  assert.equal(group.status, 1, group.stderr);
  assert.match(group.stderr, /^vfio check: no IOMMU group 1 in .*: no IOMMU is active: the firmware describes no IOMMU/);
  const dev = await vfio(["check", "--sysfs", machine, device]);
  assert.equal(dev.status, 1);
  assert.match(dev.stdout, /^error: no IOMMU is active: the firmware describes no IOMMU/m);
});

test("a group number that does not exist where an IOMMU is active stays the user's slip, exit 2", async () => {
  const c = await vfio(["check", "--sysfs", fixturePath("sysfs/guest-q35-e1000-bound"), "42"]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /^vfio check: no IOMMU group 42 .*vfio ls/);
});

test("ls lists the devices and says no IOMMU is active in the same words, exit 0", async () => {
  const c = await vfio(["ls", "--sysfs", machine]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^No IOMMU is active: the firmware describes no IOMMU/);
  assert.match(c.stdout, new RegExp(device.replace(/\./g, "\\.")));
});

test("the advice names both vendors' switches and the command that finds the missing step", () => {
  assert.match(NO_IOMMU_ADVICE, /intel_iommu=on/);
  assert.match(NO_IOMMU_ADVICE, /amd_iommu=on/);
  assert.match(NO_IOMMU_ADVICE, /vfio check/);
});
