import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../../src/cli/run.js";
import { bindCommand } from "../../../src/cli/commands/bind.js";
import { unpersistCommand } from "../../../src/cli/commands/unpersist.js";
import { memoryJournal } from "../../../src/host/journal.js";
import { idleHostProbe } from "../../../src/host/host-probe.js";
import { captureIo, deps, fakeMachine } from "./binding-fixture.js";

function configRoot(t: { after(fn: () => void): void }, tool: string) {
  const root = mkdtempSync(join(tmpdir(), "vfio-etc-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, tool, ".."), { recursive: true });
  writeFileSync(join(root, tool), "");
  return { root, ran: [] as string[][] };
}

test("vfio bind --persist with driverctl writes an override file for every member that ends on vfio-pci; unpersist removes them", async (t) => {
  const config = configRoot(t, "usr/sbin/driverctl");
  const sysfs = fakeMachine();
  const d = deps(sysfs, memoryJournal(), idleHostProbe, config);
  const io = captureIo();
  assert.equal(await runCli(["bind", "--persist", "0000:01:02.0"], io, [bindCommand(d)]), 0, io.err());
  assert.equal(readFileSync(join(config.root, "etc/driverctl.d/pci-0000:01:02.0"), "utf8"), "vfio-pci\n");
  assert.equal(readFileSync(join(config.root, "etc/driverctl.d/pci-0000:01:01.0"), "utf8"), "vfio-pci\n");
  assert.equal(existsSync(join(config.root, "etc/driverctl.d/pci-0000:00:04.0")), false);
  const un = captureIo();
  assert.equal(await runCli(["unpersist"], un, [unpersistCommand(d)]), 0);
  assert.equal(existsSync(join(config.root, "etc/driverctl.d/pci-0000:01:02.0")), false);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "vfio-pci", "the live binding stays");
});

test("vfio bind --persist --dry-run prints the persist actions and writes nothing", async (t) => {
  const config = configRoot(t, "usr/bin/dracut");
  const sysfs = fakeMachine();
  const io = captureIo();
  // The fake machine's devices all have ID 8086:100e, so by-ID persisting needs --force.
  assert.equal(await runCli(["bind", "--persist", "--dry-run", "--force", "0000:00:03.0"], io, [bindCommand(deps(sysfs, memoryJournal(), idleHostProbe, config))]), 0, io.err());
  assert.match(io.out(), /Persist \(dracut\):/);
  assert.match(io.out(), /options vfio-pci ids=8086:100e/);
  assert.match(io.out(), /run dracut -f/);
  assert.equal(existsSync(join(config.root, "etc/modprobe.d")), false);
  assert.deepEqual(sysfs.writes, []);
  assert.deepEqual(config.ran, []);
});

test("vfio bind --persist refuses by-ID persisting that would take other devices, before any write", async (t) => {
  const config = configRoot(t, "usr/sbin/update-initramfs");
  const sysfs = fakeMachine();
  const io = captureIo();
  assert.equal(await runCli(["bind", "--persist", "0000:00:03.0"], io, [bindCommand(deps(sysfs, memoryJournal(), idleHostProbe, config))]), 2);
  assert.match(io.err(), /share an ID/);
  assert.deepEqual(sysfs.writes, []);
});

test("vfio bind --persist does not go with --sysfs; vfio unpersist with nothing persisted says so", async (t) => {
  const config = configRoot(t, "usr/sbin/driverctl");
  const d = deps(fakeMachine(), memoryJournal(), idleHostProbe, config);
  assert.equal(await runCli(["bind", "--persist", "--sysfs", "x", "0000:00:03.0"], captureIo(), [bindCommand(d)]), 2);
  const io = captureIo();
  assert.equal(await runCli(["unpersist"], io, [unpersistCommand(d)]), 0);
  assert.match(io.out(), /Nothing persisted/);
});
