import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../../src/cli/run.js";
import { bindCommand } from "../../../src/cli/commands/bind.js";
import { restoreCommand } from "../../../src/cli/commands/restore.js";
import { idleHostProbe } from "../../../src/host/host-probe.js";
import { memoryJournal } from "../../../src/host/journal.js";
import { captureIo, deps, fakeMachine } from "./binding-fixture.js";

async function bound() {
  const sysfs = fakeMachine();
  const journal = memoryJournal();
  assert.equal(await runCli(["bind", "0000:01:02.0", "0000:00:03.0"], captureIo(), [bindCommand(deps(sysfs, journal))]), 0);
  return { sysfs, journal };
}

test("vfio restore <device> restores only that device and keeps the others journalled", async () => {
  const { sysfs, journal } = await bound();
  assert.equal(await runCli(["restore", "01:02.0"], captureIo(), [restoreCommand(deps(sysfs, journal))]), 0);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.equal(sysfs.driverOf("0000:01:01.0"), "vfio-pci");
  assert.deepEqual((await journal.entries()).map((e) => e.address).sort(), ["0000:00:03.0", "0000:01:01.0"]);
});

test("vfio restore --dry-run prints the writes and changes nothing", async () => {
  const { sysfs, journal } = await bound();
  const before = sysfs.writes.length;
  const io = captureIo();
  assert.equal(await runCli(["restore", "--dry-run", "0000:01:02.0"], io, [restoreCommand(deps(sysfs, journal))]), 0);
  assert.equal(sysfs.writes.length, before);
  assert.match(io.out(), /echo "0000:01:02\.0" > \/fake\/sys\/bus\/pci\/drivers\/vfio-pci\/unbind/);
  assert.match(io.out(), /check \/fake\/sys\/bus\/pci\/devices\/0000:01:02\.0\/driver -> e1000/);
});

test("vfio restore refuses while the group is open by a VFIO user", async () => {
  const { sysfs, journal } = await bound();
  const probe = { ...idleHostProbe, openers: async (p: string) => (p === "/dev/vfio/4" ? ["77 (qemu)"] : []) };
  const io = captureIo();
  assert.equal(await runCli(["restore"], io, [restoreCommand(deps(sysfs, journal, probe))]), 1);
  assert.match(io.err(), /IOMMU group 4 is open by 77 \(qemu\)/);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "vfio-pci");
});

test("vfio restore of a device not in the journal is a usage error", async () => {
  const { sysfs, journal } = await bound();
  const io = captureIo();
  assert.equal(await runCli(["restore", "0000:00:04.0"], io, [restoreCommand(deps(sysfs, journal))]), 2);
});

test("vfio restore with an empty journal says so", async () => {
  const io = captureIo();
  assert.equal(await runCli(["restore"], io, [restoreCommand(deps(fakeMachine()))]), 0);
  assert.match(io.out(), /Nothing to restore/);
});
