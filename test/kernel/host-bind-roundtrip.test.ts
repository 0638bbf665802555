// `vfio bind` → use through VFIO → `vfio restore` on the real Linux 6.1 sysfs of the test guest
// (scripts/guest/README.md), for every device of its topology; the writes a real bind makes
// against the ones --dry-run prints; and real kernel faults part-way through a bind. Every test
// compares the driver link and driver_override of EVERY PCI device with what it was before,
// and puts back what /init left whatever happens. Outside the guest every test is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { bindCommand } from "../../src/cli/commands/bind.js";
import { restoreCommand } from "../../src/cli/commands/restore.js";
import { defaultBindingDeps, shownPath, type BindingDeps } from "../../src/cli/binding-deps.js";
import type { CommandIo } from "../../src/cli/command.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { bindSteps, planBind } from "../../src/host/bind-plan.js";
import { executeBind, type BindStepError } from "../../src/host/bind-executor.js";
import { isBridge } from "../../src/host/binding-state.js";
import { memoryJournal } from "../../src/host/journal.js";
import type { Sysfs } from "../../src/api/sysfs.js";
import { openDevice } from "../../src/api/open-device.js";
import type { VfioDevice } from "../../src/api/device.js";
import { readConfig } from "../../src/api/pci-config.js";
import { PCI_DEVICE_ID, PCI_VENDOR_ID, VFIO_DEVICE_FLAGS_PCI } from "../../src/api/constants.js";
import { KernelSystem } from "../../src/kernel/system.js";

const inGuest = existsSync("/dev/vfio/vfio") && process.env["VFIO_GUEST"] === "1";
const skip = inGuest ? false : "not inside the test guest (npm run test:kernel)";
const PCI = "/sys/bus/pci/devices";
/**
 * The virtio-9p share: the repository, node's dist/ and this very test run over it, so it is
 * never bound away from virtio-pci (scripts/guest/README.md: "not a test device").
 */
const SHARE = "0000:00:07.0";
const BRIDGE = "0000:00:04.0";
const BRIDGE_EDU = "0000:01:01.0";
const NIC = "0000:01:02.0";

function driverOf(address: string): string | null {
  try {
    return basename(readlinkSync(`${PCI}/${address}/driver`));
  } catch {
    return null;
  }
}
const overrideOf = (address: string): string => readFileSync(`${PCI}/${address}/driver_override`, "utf8").trim();
const hexAttribute = (address: string, name: string): number => Number.parseInt(readFileSync(`${PCI}/${address}/${name}`, "utf8").trim(), 16);
const groupOf = (address: string): number => Number(basename(readlinkSync(`${PCI}/${address}/iommu_group`)));

/** [address, driver, driver_override] of every PCI device, sorted by address. */
type Snapshot = [string, string | null, string][];
function snapshot(): Snapshot {
  return readdirSync(PCI).sort().map((a) => [a, driverOf(a), overrideOf(a)]);
}

/** Puts every device back as `snap` has it (the tests' own cleanup; not the code under test). */
function putBack(snap: Snapshot): void {
  for (const [address, driver, override] of snap) {
    try {
      if (overrideOf(address) !== override) writeFileSync(`${PCI}/${address}/driver_override`, override === "(null)" ? "\n" : override);
      const now = driverOf(address);
      if (now !== driver && now !== null) writeFileSync(`${PCI}/${address}/driver/unbind`, address);
      if (driver !== null && driverOf(address) !== driver) writeFileSync("/sys/bus/pci/drivers_probe", address);
    } catch {
      // Best effort: the assertions of the test say what went wrong.
    }
  }
}

/** Unbinds a device and clears its driver_override, so a bind has to move it. */
function unbindAndClear(address: string): void {
  if (driverOf(address)) writeFileSync(`${PCI}/${address}/driver/unbind`, address);
  writeFileSync(`${PCI}/${address}/driver_override`, "\n");
}

function io(): CommandIo & { out: () => string; all: () => string } {
  let out = "";
  let all = "";
  return {
    stdout: { write: (t: string) => { out += t; all += t; } },
    stderr: { write: (t: string) => (all += t) },
    env: {}, out: () => out, all: () => all,
  };
}

/** The real /sys, recording each write as the shown path and value (trailing newline dropped). */
function recordingSysfs(): Sysfs & { writes: [string, string][] } {
  const real = nodeSysfs();
  const writes: [string, string][] = [];
  return {
    description: real.description, writes,
    read: (p) => real.read(p),
    list: (p) => real.list(p),
    readlink: (p) => real.readlink(p),
    write: async (p, v) => {
      writes.push([shownPath(real, p), v.replace(/\n$/, "")]);
      return real.write(p, v);
    },
  };
}

/** The `echo "<value>" > <path>` lines of CLI output, as [path, value]. */
function echoedWrites(text: string): [string, string][] {
  return [...text.matchAll(/^\s+(?:\d+\. )?echo (".*?") > (\S+)/gm)].map((m) => [m[2]!, JSON.parse(m[1]!) as string]);
}

function tempJournal(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "vfio-roundtrip-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "journal.json");
}

test("bind → use → restore round-trips every device of the guest topology to its original driver and driver_override", { skip }, async (t) => {
  const before = snapshot();
  t.after(() => putBack(before));
  // Every device but the share and the bridges: the LPC (ISA bridge, class 06 01) and the host
  // bridge (06 00) are not PCI-to-PCI bridges, so the plan binds them like any device. The ICH9
  // group (1f.0 LPC, 1f.2 SATA, 1f.3 SMBus) is safe to take: no disk hangs on the SATA
  // controller (the guest's only disk is the NVMe) and /init loads none of their drivers.
  const bridges = before.map(([a]) => a).filter((a) => a !== SHARE && isBridge(hexAttribute(a, "class")));
  const targets = before.map(([a]) => a).filter((a) => a !== SHARE && !bridges.includes(a));
  assert.deepEqual(bridges, ["0000:00:04.0", "0000:00:05.0"], "the pci-bridge and the pcie-root-port");
  for (const address of ["0000:00:00.0", "0000:00:03.0", "0000:00:06.0", "0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3", BRIDGE_EDU, NIC, "0000:02:00.0"]) {
    assert.ok(targets.includes(address), `${address} is a target`);
  }
  const onIch9 = readdirSync("/sys/class/block").filter((b) => readlinkSync(`/sys/class/block/${b}`).includes("/0000:00:1f."));
  assert.deepEqual(onIch9, [], "no block device on the ICH9 SATA controller");
  const journal = tempJournal(t);
  const out = io();
  const status = await runCli(["bind", ...targets, "--journal", journal], out, [bindCommand(), restoreCommand()]);
  assert.equal(status, 0, out.all());
  // The pci-bridge shares the e1000's group and stays; the root port has a group of its own
  // that no target is in, so the plan does not touch it at all (checked with the share below).
  assert.match(out.out(), /0000:00:04\.0 +stays/);
  assert.doesNotMatch(out.out(), /0000:00:05\.0/);
  for (const address of targets) {
    assert.equal(driverOf(address), "vfio-pci", `${address} bound`);
    assert.equal(overrideOf(address), "vfio-pci", `${address} override`);
  }
  for (const [address, driver, override] of before) {
    if (!targets.includes(address)) assert.deepEqual([driverOf(address), overrideOf(address)], [driver, override], `${address} untouched`);
  }
  const moved = before.filter(([a, driver]) => targets.includes(a) && driver !== "vfio-pci").map(([a]) => a);
  assert.ok(moved.includes(NIC) && moved.includes("0000:00:1f.2"), `moved ${moved.join(", ")}`);
  const entries = JSON.parse(readFileSync(journal, "utf8")).entries as { address: string; previousDriver: string | null }[];
  assert.deepEqual(entries.map((e) => e.address).sort(), moved);
  for (const e of entries) assert.equal(e.previousDriver, before.find(([a]) => a === e.address)![1]);

  // Use: every target's group opens through VFIO, and every device's config space answers
  // with the vendor and device IDs sysfs shows.
  const byGroup = new Map<number, string[]>();
  for (const address of targets) byGroup.set(groupOf(address), [...(byGroup.get(groupOf(address)) ?? []), address]);
  for (const [group, members] of byGroup) {
    const system = new KernelSystem();
    const opened = await openDevice(system, members[0]!);
    const devices: VfioDevice[] = [opened.device];
    try {
      for (const other of members.slice(1)) devices.push(await opened.group.openDevice(other));
      for (const [i, device] of devices.entries()) {
        const address = members[i]!;
        assert.equal((await device.info()).flags & VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PCI, address);
        assert.equal(await readConfig(device, PCI_VENDOR_ID, 2), hexAttribute(address, "vendor"), `${address} vendor (group ${group})`);
        assert.equal(await readConfig(device, PCI_DEVICE_ID, 2), hexAttribute(address, "device"), `${address} device`);
      }
    } finally {
      for (const device of devices.slice(1).reverse()) await device.close();
      await opened.close();
      await system.close();
    }
  }

  const back = io();
  assert.equal(await runCli(["restore", "--journal", journal], back, [bindCommand(), restoreCommand()]), 0, back.all());
  assert.deepEqual(snapshot(), before);
  assert.deepEqual(JSON.parse(readFileSync(journal, "utf8")).entries, []);
});

test("--dry-run lists exactly the writes the real bind and restore make (bridge group: edu and e1000 both moving)", { skip }, async (t) => {
  const initial = snapshot();
  t.after(() => putBack(initial));
  unbindAndClear(BRIDGE_EDU);
  const before = snapshot();
  const journal = tempJournal(t);
  const sysfs = recordingSysfs();
  const deps: BindingDeps = { ...defaultBindingDeps, openTarget: async (command, where) => ({ ...(await defaultBindingDeps.openTarget(command, where)), sysfs }) };
  const commands = [bindCommand(deps), restoreCommand(deps)];

  const dry = io();
  assert.equal(await runCli(["bind", "--dry-run", NIC, "--journal", journal], dry, commands), 0, dry.all());
  assert.deepEqual(sysfs.writes, [], "a dry run writes nothing");
  assert.deepEqual(snapshot(), before);
  const planned = echoedWrites(dry.out());
  const stepLines = dry.out().split("\n").filter((l) => /^\s+\d+\. /.test(l)).map((l) => l.replace(/^\s+\d+\. /, ""));
  assert.equal(planned.length, 5, dry.out()); // edu: override, probe; e1000: override, unbind, probe

  const real = io();
  assert.equal(await runCli(["bind", NIC, "--journal", journal], real, commands), 0, real.all());
  assert.deepEqual(sysfs.writes, planned);
  const ran = real.out().split("\n").slice(real.out().split("\n").indexOf("Running:") + 1).filter((l) => /^\s{2}\S/.test(l)).map((l) => l.trim());
  assert.deepEqual(ran.slice(0, stepLines.length), stepLines, "the steps run are the steps printed");
  assert.deepEqual([driverOf(BRIDGE_EDU), driverOf(NIC)], ["vfio-pci", "vfio-pci"]);

  sysfs.writes.length = 0;
  const dryBack = io();
  assert.equal(await runCli(["restore", "--dry-run", "--journal", journal], dryBack, commands), 0, dryBack.all());
  assert.deepEqual(sysfs.writes, []);
  const plannedBack = echoedWrites(dryBack.out());
  const back = io();
  assert.equal(await runCli(["restore", "--journal", journal], back, commands), 0, back.all());
  assert.deepEqual(sysfs.writes, plannedBack);
  assert.deepEqual(snapshot(), before);
});

test("a driver that refuses to bind: vfio-pci rejects a PCI bridge; the bind rolls back and every device is as before", { skip }, async (t) => {
  const initial = snapshot();
  t.after(() => putBack(initial));
  unbindAndClear(BRIDGE_EDU);
  const before = snapshot();
  const sysfs = nodeSysfs();
  const plan = await planBind(sysfs, [NIC]);
  const bridge = plan.members.find((m) => m.address === BRIDGE)!;
  assert.equal(bridge.action, "stays");
  // A plan that also binds the bridge, last: vfio_pci_core_register_device answers -EINVAL for
  // a header type other than normal (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c), a real probe
  // refusal after the edu and the e1000 have already moved.
  const refused = { ...plan, members: plan.members.map((m) => (m === bridge ? { ...m, action: "bind" as const } : m)), steps: [...plan.steps, ...bindSteps(bridge)] };
  const error = await executeBind(refused, { sysfs, journal: memoryJournal(), stepTimeoutMs: 1500 }).then(
    () => assert.fail("the bind of the bridge succeeded"),
    (e: unknown) => e as BindStepError,
  );
  assert.equal(error.name, "BindStepError");
  // drivers_probe swallows a probe error (really_probe lets the next driver try its luck and
  // the write returns success), so the refusal shows as the driver link never appearing.
  assert.equal(error.code, "ETIMEDOUT");
  assert.equal(error.step.kind, "expect-driver");
  assert.equal("device" in error.step ? error.step.device : undefined, BRIDGE);
  assert.deepEqual(error.rolledBack, [BRIDGE, NIC, BRIDGE_EDU]);
  assert.deepEqual(error.notRolledBack, []);
  assert.deepEqual(snapshot(), before);
});

test("a write the kernel fails part-way (e1000's unbind: ENODEV after a racing unbind) rolls every device back", { skip }, async (t) => {
  const initial = snapshot();
  t.after(() => putBack(initial));
  unbindAndClear(BRIDGE_EDU);
  const before = snapshot();
  const real = nodeSysfs();
  // The real /sys; just before the executor's unbind of the e1000, someone else unbinds it, so
  // the kernel itself fails the executor's write (unbind_store: -ENODEV, the device is not
  // bound to that driver).
  let raced = false;
  const racing: Sysfs = {
    description: real.description,
    read: (p) => real.read(p),
    list: (p) => real.list(p),
    readlink: (p) => real.readlink(p),
    write: async (p, v) => {
      if (p === "bus/pci/drivers/e1000/unbind" && v === NIC && !raced) {
        raced = true;
        writeFileSync(`${PCI}/${NIC}/driver/unbind`, NIC);
      }
      return real.write(p, v);
    },
  };
  const plan = await planBind(racing, [NIC]);
  assert.deepEqual(plan.members.map((m) => [m.address, m.action]), [[BRIDGE, "stays"], [BRIDGE_EDU, "bind"], [NIC, "bind"]]);
  await assert.rejects(executeBind(plan, { sysfs: racing, journal: memoryJournal() }), {
    name: "BindStepError", code: "ENODEV", rolledBack: [NIC, BRIDGE_EDU], notRolledBack: [],
  });
  assert.ok(raced);
  assert.deepEqual(snapshot(), before);
});
