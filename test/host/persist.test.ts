import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectPersistMethod, executePersist, executeUnpersist, nodeConfigFs, planPersist, PERSIST_RECORD } from "../../src/host/persist.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

function root(t: { after(fn: () => void): void }, tools: readonly string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "vfio-persist-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const tool of tools) {
    mkdirSync(join(dir, tool, ".."), { recursive: true });
    writeFileSync(join(dir, tool), "");
  }
  return dir;
}

const sysfs = () => new FakeKernelSysfs([
  { address: "0000:01:00.0", group: 1, nativeDriver: "e1000e", id: "8086:10d3" },
  { address: "0000:02:00.0", group: 2, nativeDriver: "e1000e", id: "8086:10d3" },
  { address: "0000:03:00.0", group: 3, nativeDriver: "nvme", id: "144d:a808" },
], ["e1000e", "nvme", "vfio-pci"]);

const nic = { address: "0000:01:00.0", id: "8086:10d3", hostDriver: "e1000e" };
const ssd = { address: "0000:03:00.0", id: "144d:a808", hostDriver: "nvme" };
const read = (dir: string, path: string) => readFileSync(join(dir, path), "utf8");

test("detectPersistMethod() prefers driverctl, then the initramfs tool present", async (t) => {
  assert.equal(await detectPersistMethod(nodeConfigFs(root(t, ["usr/sbin/driverctl", "usr/sbin/update-initramfs"]))), "driverctl");
  assert.equal(await detectPersistMethod(nodeConfigFs(root(t, ["usr/sbin/update-initramfs"]))), "initramfs-tools");
  assert.equal(await detectPersistMethod(nodeConfigFs(root(t, ["usr/bin/dracut"]))), "dracut");
  assert.equal(await detectPersistMethod(nodeConfigFs(root(t, ["usr/bin/mkinitcpio"]))), "mkinitcpio");
  assert.equal(await detectPersistMethod(nodeConfigFs(root(t))), "modprobe-only");
});

test("with driverctl: one override file per address in /etc/driverctl.d; unpersist removes them", async (t) => {
  const dir = root(t, ["usr/sbin/driverctl"]);
  const fs = nodeConfigFs(dir);
  const plan = await planPersist(fs, sysfs(), [nic]);
  const ran: (readonly string[])[] = [];
  await executePersist(fs, plan, async (argv: readonly string[]) => { ran.push([...argv]); });
  assert.equal(read(dir, "etc/driverctl.d/pci-0000:01:00.0"), "vfio-pci\n");
  assert.equal(ran.length, 0);
  await executeUnpersist(fs, async (argv: readonly string[]) => { ran.push([...argv]); });
  assert.equal(existsSync(join(dir, "etc/driverctl.d/pci-0000:01:00.0")), false);
  assert.equal(existsSync(join(dir, PERSIST_RECORD)), false);
});

test("without driverctl on Debian: modprobe.d ids + softdep, initramfs-tools modules, update-initramfs; unpersist undoes only its own lines", async (t) => {
  const dir = root(t, ["usr/sbin/update-initramfs"]);
  mkdirSync(join(dir, "etc/initramfs-tools"), { recursive: true });
  writeFileSync(join(dir, "etc/initramfs-tools/modules"), "# user's\nvfio\n");
  const fs = nodeConfigFs(dir);
  const ran: (readonly string[])[] = [];
  const run = async (argv: readonly string[]): Promise<void> => { ran.push([...argv]); };
  await executePersist(fs, await planPersist(fs, sysfs(), [ssd]), run);
  assert.equal(read(dir, "etc/modprobe.d/vfio-ts.conf"),
    "# Written by vfio-ts (vfio bind --persist); removed by vfio unpersist.\noptions vfio-pci ids=144d:a808\nsoftdep nvme pre: vfio-pci\n");
  assert.equal(read(dir, "etc/initramfs-tools/modules"), "# user's\nvfio\nvfio_iommu_type1\nvfio_pci\n");
  assert.deepEqual(ran, [["update-initramfs", "-u"]]);
  await executeUnpersist(fs, run);
  assert.equal(existsSync(join(dir, "etc/modprobe.d/vfio-ts.conf")), false);
  assert.equal(read(dir, "etc/initramfs-tools/modules"), "# user's\nvfio\n");
  assert.deepEqual(ran, [["update-initramfs", "-u"], ["update-initramfs", "-u"]]);
});

test("a second persist merges IDs and softdeps into vfio-ts.conf", async (t) => {
  const dir = root(t, ["usr/bin/dracut"]);
  const fs = nodeConfigFs(dir);
  const machine = sysfs();
  await executePersist(fs, await planPersist(fs, machine, [ssd]), async () => {});
  await executePersist(fs, await planPersist(fs, machine, [nic], { force: true }), async () => {});
  assert.match(read(dir, "etc/modprobe.d/vfio-ts.conf"), /ids=144d:a808,8086:10d3\nsoftdep e1000e pre: vfio-pci\nsoftdep nvme pre: vfio-pci\n/);
  assert.equal(read(dir, "etc/dracut.conf.d/vfio-ts.conf"), 'force_drivers+=" vfio vfio_iommu_type1 vfio_pci "\n');
});

test("by ID, persisting one of two identical NICs is refused unless --force", async (t) => {
  const fs = nodeConfigFs(root(t));
  await assert.rejects(planPersist(fs, sysfs(), [nic]), { name: "VfioUsageError", code: "ESHAREDID" });
  assert.equal((await planPersist(fs, sysfs(), [nic], { force: true })).method, "modprobe-only");
});

test("persist will not overwrite a file it did not write", async (t) => {
  const dir = root(t, ["usr/bin/mkinitcpio"]);
  mkdirSync(join(dir, "etc/mkinitcpio.conf.d"), { recursive: true });
  writeFileSync(join(dir, "etc/mkinitcpio.conf.d/vfio-ts.conf"), "MODULES+=(mine)\n");
  const fs = nodeConfigFs(dir);
  await assert.rejects(executePersist(fs, await planPersist(fs, sysfs(), [ssd]), async () => {}), { code: "EEXIST" });
});
