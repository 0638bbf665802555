import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDevices, checkGroupsClosed } from "../../src/host/safety-checks.js";
import { capturedHostProbe, idleHostProbe, type HostProbe } from "../../src/host/host-probe.js";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { fixturePath } from "../helpers/fixtures.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

function host(): FakeKernelSysfs {
  const sysfs = new FakeKernelSysfs([
    { address: "0000:00:02.0", group: 1, classCode: "0x030000", nativeDriver: "bochs-drm", bootVga: true },
    { address: "0000:00:03.0", group: 2, nativeDriver: "e1000" },
    { address: "0000:00:06.0", group: 3, classCode: "0x010802", nativeDriver: "nvme" },
    { address: "0000:00:07.0", group: 4, nativeDriver: "e1000" },
    { address: "0000:00:09.0", group: 5, nativeDriver: "virtio-pci" },
    { address: "0000:00:0a.0", group: 6, classCode: "0x000200", nativeDriver: "virtio-pci" },
    { address: "0000:00:0b.0", group: 7, classCode: "0x018000", nativeDriver: "virtio-pci" },
    { address: "0000:00:0c.0", group: 8, classCode: "0x010000", nativeDriver: "virtio-pci" },
  ], ["e1000", "nvme", "bochs-drm", "virtio-pci"]);
  // As Linux links them: class/net/<iface> -> ../../devices/<path of the interface>.
  const net = (iface: string, under: string, operstate: string, flags?: string) => {
    sysfs.links.set(`class/net/${iface}`, `../../devices/pci0000:00/${under}/net/${iface}`);
    sysfs.files.set(`class/net/${iface}/operstate`, `${operstate}\n`);
    if (flags !== undefined) sysfs.files.set(`class/net/${iface}/flags`, `${flags}\n`);
  };
  net("eth0", "0000:00:03.0", "up");
  net("eth1", "0000:00:07.0", "down", "0x1002");
  net("eth2", "0000:00:08.0", "down", "0x1003");
  // A virtio NIC: the interface hangs off the virtio device, one level below the PCI device.
  net("ens9", "0000:00:09.0/virtio0", "up", "0x1003");
  sysfs.links.set("class/net/lo", "../../devices/virtual/net/lo");
  sysfs.files.set("class/net/lo/flags", "0x9\n");
  const block = (name: string, path: string, dev: string) => {
    sysfs.links.set(`class/block/${name}`, `../../devices/pci0000:00/${path}`);
    sysfs.files.set(`class/block/${name}/dev`, `${dev}\n`);
    sysfs.links.set(`dev/block/${dev}`, `../../devices/pci0000:00/${path}`);
  };
  for (const [name, dev] of [["nvme0n1", "259:0"], ["nvme0n1p1", "259:1"], ["nvme0n1p2", "259:2"], ["nvme0n1p3", "259:3"]] as const) {
    block(name, `0000:00:06.0/nvme/nvme0/${name === "nvme0n1" ? "" : "nvme0n1/"}${name}`, dev);
  }
  sysfs.links.set("class/block/nvme0n1p3/holders/dm-0", "x");
  sysfs.links.set("class/block/sda", "../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda");
  // A virtio disk (vda, partition vda1) and two shares: 9p and virtiofs.
  block("vda", "0000:00:0c.0/virtio3/block/vda", "254:0");
  block("vda1", "0000:00:0c.0/virtio3/block/vda/vda1", "254:1");
  sysfs.links.set("bus/virtio/devices/virtio1", "../../../devices/pci0000:00/0000:00:0a.0/virtio1");
  sysfs.files.set("bus/virtio/devices/virtio1/mount_tag", "repo\0");
  sysfs.links.set("bus/virtio/devices/virtio2", "../../../devices/pci0000:00/0000:00:0b.0/virtio2");
  sysfs.files.set("fs/virtiofs/0/tag", "shared\n");
  sysfs.links.set("fs/virtiofs/0/device", "../../../devices/pci0000:00/0000:00:0b.0/virtio2");
  sysfs.links.set("class/graphics/fb0/device", "../../../0000:00:02.0");
  return sysfs;
}

const mount = (device: string, source: string, mountPoint: string, fstype = "ext4") => ({ device, source, mountPoint, fstype });

const busyProbe: HostProbe = {
  ...idleHostProbe,
  interfaceAddresses: async (name) => (name === "eth0" ? ["192.0.2.5"] : name === "ens9" ? ["192.0.2.9"] : []),
  interfaceRoutes: async (name) => (name === "eth0" ? 2 : 0),
  mounts: async () => [
    mount("259:1", "/dev/nvme0n1p1", "/"), mount("0:22", "proc", "/proc", "proc"),
    mount("0:45", "repo", "/repo", "9p"), mount("0:46", "shared", "/mnt/shared", "virtiofs"),
    // btrfs: st_dev is an anonymous device; the source node names the disk.
    mount("0:47", "/dev/vda1", "/data", "btrfs"),
  ],
  swapDevices: async () => new Set(["nvme0n1p2"]),
  openers: async (path) => (path === "/dev/vfio/4" ? ["4242 (qemu-system-x86)"] : []),
};

test("checkDevices() finds an interface that is up, has addresses and carries routes", async () => {
  const findings = await checkDevices(host(), busyProbe, ["0000:00:03.0"]);
  assert.deepEqual(findings.map((f) => f.code), ["net-up", "net-addresses", "net-routes"]);
});

test("checkDevices() finds a mounted partition, a swap partition and one held by dm, of this device only", async () => {
  const findings = await checkDevices(host(), busyProbe, ["0000:00:06.0"]);
  assert.deepEqual(findings.map((f) => [f.code, "block" in f ? f.block : ""]), [
    ["block-mounted", "nvme0n1p1"], ["block-swap", "nvme0n1p2"], ["block-held", "nvme0n1p3"],
  ]);
});

test("checkDevices() finds a virtio NIC's interface, one level below the PCI device", async () => {
  const findings = await checkDevices(host(), busyProbe, ["0000:00:09.0"]);
  assert.deepEqual(findings.map((f) => [f.code, "iface" in f ? f.iface : ""]), [["net-up", "ens9"], ["net-addresses", "ens9"]]);
});

test("checkDevices() finds mounted 9p and virtiofs shares by their tags, and a disk mounted through its source node", async () => {
  const probe = busyProbe;
  assert.deepEqual((await checkDevices(host(), probe, ["0000:00:0a.0"])).map((f) => [f.code, "tag" in f ? f.tag : "", "mountPoint" in f ? f.mountPoint : ""]), [["share-mounted", "repo", "/repo"]]);
  assert.deepEqual((await checkDevices(host(), probe, ["0000:00:0b.0"])).map((f) => [f.code, "tag" in f ? f.tag : ""]), [["share-mounted", "shared"]]);
  assert.deepEqual((await checkDevices(host(), probe, ["0000:00:0c.0"])).map((f) => [f.code, "block" in f ? f.block : "", "mountPoint" in f ? f.mountPoint : ""]), [["block-mounted", "vda1", "/data"]]);
  // Nothing mounted from them: nothing found.
  assert.deepEqual(await checkDevices(host(), idleHostProbe, ["0000:00:0a.0", "0000:00:0b.0", "0000:00:0c.0"]), []);
});

test("checkDevices() finds the boot VGA device and its framebuffer", async () => {
  const findings = await checkDevices(host(), idleHostProbe, ["0000:00:02.0"]);
  assert.deepEqual(findings.map((f) => f.code), ["boot-vga", "framebuffer"]);
});

test("checkDevices() counts an interface as up when IFF_UP is set, carrier or not", async () => {
  assert.deepEqual((await checkDevices(host(), idleHostProbe, ["0000:00:08.0"])).map((f) => f.code), ["net-up"]);
});

test("checkDevices() finds nothing for an idle device; holders come from sysfs whatever the probe says", async () => {
  assert.deepEqual(await checkDevices(host(), idleHostProbe, ["0000:00:07.0"]), []);
  assert.deepEqual((await checkDevices(host(), idleHostProbe, ["0000:00:06.0", "0000:00:03.0"])).map((f) => f.code), ["block-held", "net-up"]);
});

test("checkGroupsClosed() names the process holding /dev/vfio/N", async () => {
  assert.deepEqual(await checkGroupsClosed(busyProbe, [3, 4]), [
    { code: "group-open", group: 4, openers: ["4242 (qemu-system-x86)"], message: "IOMMU group 4 is open by 4242 (qemu-system-x86)" },
  ]);
});

test("on this machine's capture (a VM): its own virtio NIC and its root disk are found, through their virtio devices", async () => {
  const root = fixturePath("sysfs/host-no-iommu");
  const sysfs = nodeSysfs({ root: `${root}/sys` });
  const probe = capturedHostProbe(`${root}/proc`);
  // 00:03.0 is virtio-net: eth0 is at 0000:00:03.0/virtio2/net/eth0, up, with IPv6 addresses and routes.
  const nic = await checkDevices(sysfs, probe, ["0000:00:03.0"]);
  assert.deepEqual(nic.map((f) => [f.code, "iface" in f ? f.iface : ""]), [["net-up", "eth0"], ["net-addresses", "eth0"], ["net-routes", "eth0"]]);
  // 00:02.0 is virtio-blk: vda (254:0) holds /.
  const disk = await checkDevices(sysfs, probe, ["0000:00:02.0"]);
  assert.deepEqual(disk.map((f) => [f.code, "block" in f ? f.block : "", "mountPoint" in f ? f.mountPoint : ""]), [["block-mounted", "vda", "/"]]);
  // The balloon and the RNG carry nothing.
  assert.deepEqual(await checkDevices(sysfs, probe, ["0000:00:01.0", "0000:00:05.0"]), []);
});

test("on the Linux 6.1 guest's capture: the repository's 9p share (mount_tag 'repo' with the kernel's NUL) is found at 00:07.0", async () => {
  const root = fixturePath("sysfs/guest-q35-e1000-bound");
  const sysfs = nodeSysfs({ root: `${root}/sys` });
  const findings = await checkDevices(sysfs, capturedHostProbe(`${root}/proc`), ["0000:00:07.0"]);
  assert.deepEqual(findings.map((f) => [f.code, "tag" in f ? f.tag : "", "mountPoint" in f ? f.mountPoint : ""]), [["share-mounted", "repo", "/repo"]]);
  assert.deepEqual(await checkDevices(sysfs, capturedHostProbe(`${root}/proc`), ["0000:00:03.0", "0000:01:02.0"]), []);
});
