// `vfio bind --sysfs DIR` on capture-shaped machines whose own devices are in use: a virtio NIC
// (its interface one level below the PCI device) and a mounted virtio-9p share. The capture's
// proc/ answers the checks, not this machine's; refused, nothing is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildMachineTree, GUEST_LIKE } from "../../helpers/machine-tree.js";
import { vfio } from "../../helpers/run-cli.js";
import { fixturePath } from "../../helpers/fixtures.js";

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(target, path);
}

/** GUEST_LIKE plus a virtio-net at 00:05.0 whose eth0 is up and routed, and a virtio-9p at 00:07.0 mounted on /repo. */
async function vmWithVirtio(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const tree = await buildMachineTree({
    ...GUEST_LIKE,
    devices: [
      ...GUEST_LIKE.devices,
      { address: "0000:00:05.0", vendor: 0x1af4, device: 0x1041, classCode: 0x020000, group: 3, driver: "virtio-pci" },
      { address: "0000:00:07.0", vendor: 0x1af4, device: 0x1049, classCode: 0x000200, group: 4, driver: "virtio-pci" },
    ],
    extraDrivers: [...(GUEST_LIKE.extraDrivers ?? []), "vfio-pci"],
  });
  t.after(tree.cleanup);
  const sys = join(tree.root, "sys");
  await put(join(sys, "devices/pci0000:00/0000:00:05.0/virtio1/net/eth0/flags"), "0x1003\n");
  await put(join(sys, "devices/pci0000:00/0000:00:05.0/virtio1/net/eth0/operstate"), "up\n");
  await link(join(sys, "class/net/eth0"), "../../devices/pci0000:00/0000:00:05.0/virtio1/net/eth0");
  await link(join(sys, "bus/virtio/devices/virtio1"), "../../../devices/pci0000:00/0000:00:05.0/virtio1");
  await put(join(sys, "devices/pci0000:00/0000:00:07.0/virtio2/mount_tag"), "repo\0");
  await link(join(sys, "bus/virtio/devices/virtio2"), "../../../devices/pci0000:00/0000:00:07.0/virtio2");
  await put(join(tree.root, "proc/net/route"),
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
  await put(join(tree.root, "proc/self/mountinfo"), "22 1 0:21 / / rw - tmpfs rootfs rw\n25 22 0:45 / /repo rw,relatime - 9p repo rw,trans=virtio\n");
  return tree.root;
}

test("vfio bind of a VM's own virtio NIC is refused: eth0 is up and carries the default route", async (t) => {
  const root = await vmWithVirtio(t);
  const journal = join(root, "journal.json");
  const { status, stderr } = await vfio(["bind", "--sysfs", root, "--journal", journal, "0000:00:05.0"]);
  assert.equal(status, 1, stderr);
  assert.match(stderr, /refused: 0000:00:05\.0: network interface eth0 is up/);
  assert.match(stderr, /refused: 0000:00:05\.0: 1 route\(s\) go through eth0/);
  assert.equal(await readFile(join(root, "sys/devices/pci0000:00/0000:00:05.0/driver_override"), "utf8"), "(null)\n");
  assert.match(await readlink(join(root, "sys/devices/pci0000:00/0000:00:05.0/driver")), /virtio-pci$/);
});

test("vfio bind of the device behind a mounted 9p share is refused; --dry-run says a real run would be", async (t) => {
  const root = await vmWithVirtio(t);
  const refused = await vfio(["bind", "--sysfs", root, "--journal", join(root, "journal.json"), "0000:00:07.0"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /refused: 0000:00:07\.0: 9p share 'repo' \(virtio2\) is mounted on \/repo/);
  const dry = await vfio(["bind", "--dry-run", "--sysfs", root, "0000:00:07.0"]);
  assert.equal(dry.status, 0);
  assert.match(dry.stderr, /a real run refuses/);
  assert.equal(await readFile(join(root, "sys/devices/pci0000:00/0000:00:07.0/driver_override"), "utf8"), "(null)\n");
});

test("vfio bind --dry-run on the guest's capture: binding the 9p share's device is refused in a real run", async () => {
  const dry = await vfio(["bind", "--dry-run", "--sysfs", fixturePath("sysfs/guest-q35-e1000-bound"), "0000:00:07.0"]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stderr, /refused: 0000:00:07\.0: 9p share 'repo' \(virtio0\) is mounted on \/repo/);
});
