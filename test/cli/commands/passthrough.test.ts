import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../../src/cli/run.js";
import { passthroughCommand } from "../../../src/cli/commands/passthrough.js";
import { idleHostProbe } from "../../../src/host/host-probe.js";
import { memoryJournal } from "../../../src/host/journal.js";
import { captureIo, deps, fakeMachine } from "./binding-fixture.js";
import { bindCommand } from "../../../src/cli/commands/bind.js";

test("vfio passthrough --qemu prints -device options after vfio bind; --libvirt the hostdev XML", async () => {
  const sysfs = fakeMachine();
  const d = deps(sysfs);
  assert.equal(await runCli(["bind", "0000:01:02.0"], captureIo(), [bindCommand(d)]), 0);
  const qemu = captureIo();
  assert.equal(await runCli(["passthrough", "--qemu", "0000:01:02.0"], qemu, [passthroughCommand(d)]), 0);
  assert.equal(qemu.out(), "-device vfio-pci,host=0000:01:02.0,id=hostdev0\n");
  assert.match(qemu.err(), /0000:01:01\.0 share the IOMMU group/);
  const libvirt = captureIo();
  assert.equal(await runCli(["passthrough", "--libvirt", "0000:01:02.0"], libvirt, [passthroughCommand(d)]), 0);
  assert.match(libvirt.out(), /<address domain='0x0000' bus='0x01' slot='0x02' function='0x0'\/>/);
});

test("vfio passthrough refuses a device not bound and an open group (exit 1), as vfio check does", async () => {
  const sysfs = fakeMachine();
  const io = captureIo();
  assert.equal(await runCli(["passthrough", "--qemu", "0000:01:02.0"], io, [passthroughCommand(deps(sysfs))]), 1);
  assert.match(io.err(), /vfio bind 0000:01:02\.0/);
  assert.equal(io.out(), "");
  assert.equal(await runCli(["passthrough", "0000:01:02.0"], captureIo(), [passthroughCommand(deps(sysfs))]), 2);
  await runCli(["bind", "0000:00:03.0"], captureIo(), [bindCommand(deps(sysfs))]);
  const probe = { ...idleHostProbe, openers: async (p: string) => (p === "/dev/vfio/3" ? ["9 (qemu)"] : []) };
  const open = captureIo();
  assert.equal(await runCli(["passthrough", "--qemu", "0000:00:03.0"], open, [passthroughCommand(deps(sysfs, memoryJournal(), probe))]), 1);
  assert.match(open.err(), /error: group 3 is open by 9 \(qemu\)/);
  assert.equal(open.out(), "");
  const forced = captureIo();
  assert.equal(await runCli(["passthrough", "--qemu", "--force", "0000:00:03.0"], forced, [passthroughCommand(deps(sysfs, memoryJournal(), probe))]), 0);
  assert.match(forced.err(), /warning \(--force\): group 3 is open by 9 \(qemu\)/);
});
