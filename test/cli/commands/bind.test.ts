import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../../src/cli/run.js";
import { bindCommand } from "../../../src/cli/commands/bind.js";
import { restoreCommand } from "../../../src/cli/commands/restore.js";
import { idleHostProbe } from "../../../src/host/host-probe.js";
import { memoryJournal } from "../../../src/host/journal.js";
import { captureIo, deps, fakeMachine } from "./binding-fixture.js";

test("vfio bind --dry-run prints the group, every member and every write in order, and writes nothing", async () => {
  const sysfs = fakeMachine();
  const io = captureIo();
  const status = await runCli(["bind", "--dry-run", "01:02.0"], io, [bindCommand(deps(sysfs))]);
  assert.equal(status, 0);
  assert.deepEqual(sysfs.writes, []);
  const out = io.out();
  assert.match(out, /IOMMU group 4:/);
  assert.match(out, /0000:00:04\.0 +stays/);
  assert.match(out, /0000:01:01\.0 +bind .*not named/);
  const writes = out.split("\n").filter((l) => l.includes("echo "));
  assert.deepEqual(writes.map((l) => l.replace(/ +#.*/, "").replace(/^ +\d+\. /, "")), [
    'echo "vfio-pci" > /fake/sys/bus/pci/devices/0000:01:01.0/driver_override',
    'echo "0000:01:01.0" > /fake/sys/bus/pci/drivers_probe',
    'echo "vfio-pci" > /fake/sys/bus/pci/devices/0000:01:02.0/driver_override',
    'echo "0000:01:02.0" > /fake/sys/bus/pci/drivers/e1000/unbind',
    'echo "0000:01:02.0" > /fake/sys/bus/pci/drivers_probe',
  ]);
});

test("vfio bind then vfio restore: the whole group moves to vfio-pci and back", async () => {
  const sysfs = fakeMachine();
  const journal = memoryJournal();
  const d = deps(sysfs, journal);
  const commands = [bindCommand(d), restoreCommand(d)];
  assert.equal(await runCli(["bind", "0000:01:02.0"], captureIo(), commands), 0);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "vfio-pci");
  assert.equal(sysfs.driverOf("0000:01:01.0"), "vfio-pci");
  const io = captureIo();
  assert.equal(await runCli(["restore"], io, commands), 0);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.equal(sysfs.driverOf("0000:01:01.0"), null);
  assert.equal(sysfs.overrideOf("0000:01:01.0"), null);
  assert.match(io.out(), /Restored 0000:01:02\.0 to e1000/);
  assert.deepEqual(await journal.entries(), []);
});

test("vfio bind refuses with the findings and writes nothing; --force goes on", async () => {
  const sysfs = fakeMachine();
  sysfs.links.set("class/net/eth0", "../../devices/pci0000:00/0000:00:04.0/0000:01:02.0/net/eth0");
  sysfs.files.set("class/net/eth0/operstate", "up\n");
  const probe = { ...idleHostProbe, interfaceAddresses: async () => ["192.0.2.1"] };
  const io = captureIo();
  assert.equal(await runCli(["bind", "0000:01:01.0"], io, [bindCommand(deps(sysfs, memoryJournal(), probe))]), 1);
  assert.match(io.err(), /refused: 0000:01:02\.0: network interface eth0 is up/);
  assert.match(io.err(), /refused: 0000:01:02\.0: network interface eth0 has addresses 192\.0\.2\.1/);
  assert.deepEqual(sysfs.writes, []);
  const forced = captureIo();
  assert.equal(await runCli(["bind", "--force", "0000:01:01.0"], forced, [bindCommand(deps(sysfs, memoryJournal(), probe))]), 0);
  assert.match(forced.err(), /warning: /);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "vfio-pci");
});

test("vfio bind reports a failure in one line, exit 1, with the devices rolled back", async () => {
  const sysfs = fakeMachine();
  sysfs.failOnce.set("bus/pci/drivers/e1000/unbind", 16);
  const io = captureIo();
  assert.equal(await runCli(["bind", "0000:01:01.0"], io, [bindCommand(deps(sysfs))]), 1);
  assert.match(io.err(), /^vfio bind: .*EBUSY.*rolled back 0000:01:02\.0, 0000:01:01\.0\n$/);
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.equal(sysfs.driverOf("0000:01:01.0"), null);
});

test("vfio bind rejects bad input with exit 2", async () => {
  const sysfs = fakeMachine();
  for (const args of [["bind"], ["bind", "zz"], ["bind", "--bogus", "00:03.0"], ["bind", "--timeout=0", "00:03.0"], ["bind", "--timeout", "-1", "00:03.0"], ["bind", "0000:00:09.0"]]) {
    const io = captureIo();
    assert.equal(await runCli(args, io, [bindCommand(deps(sysfs))]), 2, args.join(" "));
    assert.equal(io.err().split("\n").length, 2, io.err());
  }
  assert.deepEqual(sysfs.writes, []);
});

test("vfio bind --dry-run on a captured /sys without an IOMMU explains, exit 1 (the machine's state), through the real node sysfs", async () => {
  const io = captureIo();
  const status = await runCli(["bind", "--dry-run", "--sysfs", "test/fixtures/sysfs/host-no-iommu/sys", "0000:00:03.0"], io, [bindCommand()]);
  assert.equal(status, 1);
  assert.match(io.err(), /no IOMMU group/);
});

test("vfio bind --dry-run on the guest's captured /sys plans the bridge group as the real kernel run does", async () => {
  const io = captureIo();
  const status = await runCli(["bind", "--dry-run", "--sysfs", "test/fixtures/sysfs/guest-q35-e1000-bound/sys", "0000:01:02.0"], io, [bindCommand()]);
  assert.equal(status, 0, io.err());
  assert.match(io.out(), /0000:00:04\.0 +stays/);
  assert.match(io.out(), /0000:01:01\.0 +already-bound/);
  assert.match(io.out(), /0000:01:02\.0 +bind +moves from e1000 to vfio-pci/);
  assert.equal(io.out().split("\n").filter((l) => /^ +\d+\. /.test(l)).length, 5);
});

test("vfio bind --sysfs takes the capture root as ls and check do, and rejects a directory that is not sysfs with exit 2", async () => {
  const capture = "test/fixtures/sysfs/guest-q35-e1000-bound";
  const root = captureIo();
  const sys = captureIo();
  assert.equal(await runCli(["bind", "--dry-run", "--sysfs", capture, "0000:00:03.0"], root, [bindCommand()]), 0, root.err());
  assert.equal(await runCli(["bind", "--dry-run", "--sysfs", `${capture}/sys`, "0000:00:03.0"], sys, [bindCommand()]), 0, sys.err());
  assert.equal(root.out(), sys.out());
  const missing = captureIo();
  assert.equal(await runCli(["bind", "--dry-run", "--sysfs", "/nonexistent-vfio-ts", "0000:00:03.0"], missing, [bindCommand()]), 2);
  assert.match(missing.err(), /^vfio bind: --sysfs \/nonexistent-vfio-ts is not a sysfs tree.*\n$/);
});
