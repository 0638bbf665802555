// `vfio bind` / `vfio restore` against the real Linux 6.1 sysfs of the test guest
// (scripts/guest/README.md): real driver_override, unbind and drivers_probe, real e1000 and
// vfio-pci probes. Every test leaves the devices as /init left them. Outside the guest every
// test is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { bind } from "../../src/cli/commands/bind.js";
import { restore } from "../../src/cli/commands/restore.js";
import type { CommandIo } from "../../src/cli/command.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { planBind } from "../../src/host/bind-plan.js";
import { executeBind } from "../../src/host/bind-executor.js";
import { memoryJournal } from "../../src/host/journal.js";
import { VfioSystemError } from "../../src/api/errors.js";
import type { Sysfs } from "../../src/api/sysfs.js";
import { groupStatusLayout } from "../../src/abi/vfio/group-status.js";
import { VFIO_GROUP_GET_STATUS } from "../../src/abi/ioctl-number.js";
import { VFIO_GROUP_FLAGS_VIABLE } from "../../src/api/constants.js";

const inGuest = existsSync("/dev/vfio/vfio") && process.env["VFIO_GUEST"] === "1";
const skip = inGuest ? false : "not inside the test guest (npm run test:kernel)";
const PCI = "/sys/bus/pci/devices";

function driverOf(address: string): string | null {
  try {
    return basename(readlinkSync(`${PCI}/${address}/driver`));
  } catch {
    return null;
  }
}
const overrideOf = (address: string): string => readFileSync(`${PCI}/${address}/driver_override`, "utf8").trim();
const groupOf = (address: string): string => basename(readlinkSync(`${PCI}/${address}/iommu_group`));

/** VFIO_GROUP_GET_STATUS on /dev/vfio/<group>, through the abi layouts and koffi directly. */
async function groupFlags(group: string): Promise<number> {
  const { libcLibrary } = await import("../../src/native/ffi.js");
  const libc = libcLibrary();
  const open = libc.func("int open(const char *path, int flags)");
  const ioctl = libc.func("int ioctl(int fd, unsigned long request, void *arg)");
  const close = libc.func("int close(int fd)");
  const fd = open(`/dev/vfio/${group}`, 2 /* O_RDWR */) as number;
  assert.ok(fd >= 0, `open /dev/vfio/${group}`);
  try {
    const buffer = groupStatusLayout.encode({ argsz: groupStatusLayout.size });
    assert.equal(ioctl(fd, VFIO_GROUP_GET_STATUS, buffer), 0, "VFIO_GROUP_GET_STATUS");
    return groupStatusLayout.decode(buffer).flags;
  } finally {
    close(fd);
  }
}

function io(): CommandIo & { text: () => string } {
  let text = "";
  return { stdout: { write: (t: string) => (text += t) }, stderr: { write: (t: string) => (text += t) }, env: {}, text: () => text };
}

async function vfio(journal: string, ...args: string[]): Promise<{ status: number; text: string }> {
  const out = io();
  const status = await runCli([...args, "--journal", journal], out, [bind, restore]);
  return { status, text: out.text() };
}

function tempJournal(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "vfio-bind-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "journal.json");
}

test("vfio bind --dry-run on the real /sys prints the bridge group's plan and changes nothing", { skip }, async (t) => {
  const before = ["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"].map((a) => [driverOf(a), overrideOf(a)]);
  const { status, text } = await vfio(tempJournal(t), "bind", "--dry-run", "0000:01:02.0");
  assert.equal(status, 0, text);
  assert.match(text, /0000:00:04\.0 +stays/);
  assert.match(text, /0000:01:01\.0 +already-bound/);
  assert.match(text, /echo "0000:01:02\.0" > \/sys\/bus\/pci\/drivers\/e1000\/unbind/);
  assert.deepEqual(["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"].map((a) => [driverOf(a), overrideOf(a)]), before);
});

test("vfio bind moves the e1000 to vfio-pci, making the bridge group viable; vfio restore gives it back to e1000", { skip }, async (t) => {
  const journal = tempJournal(t);
  const group = groupOf("0000:01:02.0");
  assert.equal((await groupFlags(group)) & VFIO_GROUP_FLAGS_VIABLE, 0, "not viable while e1000 has the NIC");
  t.after(() => {
    // Whatever happened, leave the e1000 as /init did.
    if (driverOf("0000:01:02.0") !== "e1000") {
      writeFileSync(`${PCI}/0000:01:02.0/driver_override`, "\n");
      if (driverOf("0000:01:02.0")) writeFileSync(`${PCI}/0000:01:02.0/driver/unbind`, "0000:01:02.0");
      writeFileSync("/sys/bus/pci/drivers_probe", "0000:01:02.0");
    }
  });
  const bound = await vfio(journal, "bind", "0000:01:02.0");
  assert.equal(bound.status, 0, bound.text);
  assert.equal(driverOf("0000:01:02.0"), "vfio-pci");
  assert.equal(overrideOf("0000:01:02.0"), "vfio-pci");
  assert.equal((await groupFlags(group)) & VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_VIABLE, "viable after bind");
  const entries = JSON.parse(readFileSync(journal, "utf8")).entries;
  assert.deepEqual(entries.map((e: { address: string; previousDriver: string }) => [e.address, e.previousDriver]), [["0000:01:02.0", "e1000"]]);

  const restored = await vfio(journal, "restore");
  assert.equal(restored.status, 0, restored.text);
  assert.equal(driverOf("0000:01:02.0"), "e1000");
  assert.equal(overrideOf("0000:01:02.0"), "(null)");
  assert.equal((await groupFlags(group)) & VFIO_GROUP_FLAGS_VIABLE, 0, "not viable again after restore");
  assert.deepEqual(JSON.parse(readFileSync(journal, "utf8")).entries, []);
});

test("vfio bind of an unbound edu and vfio restore leave it unbound again, override cleared", { skip }, async (t) => {
  const edu = "0000:00:03.0";
  const journal = tempJournal(t);
  // Undo /init's binding so the edu starts with no driver and no override.
  writeFileSync(`${PCI}/${edu}/driver/unbind`, edu);
  writeFileSync(`${PCI}/${edu}/driver_override`, "\n");
  t.after(() => {
    if (driverOf(edu) !== "vfio-pci") {
      writeFileSync(`${PCI}/${edu}/driver_override`, "vfio-pci");
      writeFileSync("/sys/bus/pci/drivers_probe", edu);
    }
  });
  assert.equal(driverOf(edu), null);
  const bound = await vfio(journal, "bind", edu);
  assert.equal(bound.status, 0, bound.text);
  assert.equal(driverOf(edu), "vfio-pci");
  const restored = await vfio(journal, "restore", edu);
  assert.equal(restored.status, 0, restored.text);
  assert.equal(driverOf(edu), null);
  assert.equal(overrideOf(edu), "(null)");
});

test("vfio bind refuses to take the e1000 while its interface is up, and changes nothing", { skip }, async (t) => {
  const name = readdirSync(`${PCI}/0000:01:02.0/net`)[0]!;
  execFileSync("ip", ["link", "set", "dev", name, "up"]);
  t.after(() => execFileSync("ip", ["link", "set", "dev", name, "down"]));
  assert.equal(Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, "utf8"), 16) & 1, 1, "IFF_UP set");
  const { status, text } = await vfio(tempJournal(t), "bind", "0000:01:02.0");
  assert.equal(status, 1, text);
  assert.match(text, new RegExp(`network interface ${name} is up`));
  assert.equal(driverOf("0000:01:02.0"), "e1000");
});

test("a real bind that fails part-way puts the moved devices back on their real drivers", { skip }, async (t) => {
  const edu = "0000:01:01.0";
  const nic = "0000:01:02.0";
  // Start with the edu unbound too, so the plan moves two devices: edu first, then the e1000.
  writeFileSync(`${PCI}/${edu}/driver/unbind`, edu);
  writeFileSync(`${PCI}/${edu}/driver_override`, "\n");
  t.after(() => {
    writeFileSync(`${PCI}/${nic}/driver_override`, "\n");
    if (driverOf(nic) !== "e1000") {
      if (driverOf(nic)) writeFileSync(`${PCI}/${nic}/driver/unbind`, nic);
      writeFileSync("/sys/bus/pci/drivers_probe", nic);
    }
    if (driverOf(edu) !== "vfio-pci") {
      if (driverOf(edu)) writeFileSync(`${PCI}/${edu}/driver/unbind`, edu);
      writeFileSync(`${PCI}/${edu}/driver_override`, "vfio-pci");
      writeFileSync("/sys/bus/pci/drivers_probe", edu);
    }
  });
  const real = nodeSysfs();
  // The real /sys, except that the e1000's first drivers_probe fails (EIO) without reaching the kernel.
  let failed = false;
  const failing: Sysfs = {
    description: real.description,
    read: (p) => real.read(p),
    list: (p) => real.list(p),
    readlink: (p) => real.readlink(p),
    write: async (p, v) => {
      if (p === "bus/pci/drivers_probe" && v === nic && !failed) {
        failed = true;
        throw new VfioSystemError("sysfs write", 5, "sysfs", p);
      }
      return real.write(p, v);
    },
  };
  const plan = await planBind(failing, [edu]);
  assert.deepEqual(plan.members.map((m) => [m.address, m.action]), [["0000:00:04.0", "stays"], [edu, "bind"], [nic, "bind"]]);
  await assert.rejects(executeBind(plan, { sysfs: failing, journal: memoryJournal() }), { name: "BindStepError", code: "EIO", rolledBack: [nic, edu] });
  assert.equal(driverOf(nic), "e1000");
  assert.equal(overrideOf(nic), "(null)");
  assert.equal(driverOf(edu), null);
  assert.equal(overrideOf(edu), "(null)");
});
