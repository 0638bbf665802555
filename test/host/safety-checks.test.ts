import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDevices, checkGroupsClosed } from "../../src/host/safety-checks.js";
import { idleHostProbe, type HostProbe } from "../../src/host/host-probe.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

function host(): FakeKernelSysfs {
  const sysfs = new FakeKernelSysfs([
    { address: "0000:00:02.0", group: 1, classCode: "0x030000", nativeDriver: "bochs-drm", bootVga: true },
    { address: "0000:00:03.0", group: 2, nativeDriver: "e1000" },
    { address: "0000:00:06.0", group: 3, classCode: "0x010802", nativeDriver: "nvme" },
    { address: "0000:00:07.0", group: 4, nativeDriver: "e1000" },
  ], ["e1000", "nvme", "bochs-drm"]);
  sysfs.links.set("bus/pci/devices/0000:00:03.0/net/eth0", "x");
  sysfs.files.set("class/net/eth0/operstate", "up\n");
  sysfs.links.set("bus/pci/devices/0000:00:07.0/net/eth1", "x");
  sysfs.files.set("class/net/eth1/operstate", "down\n");
  sysfs.files.set("class/net/eth1/flags", "0x1002\n");
  sysfs.links.set("bus/pci/devices/0000:00:08.0/net/eth2", "x");
  sysfs.files.set("class/net/eth2/operstate", "down\n");
  sysfs.files.set("class/net/eth2/flags", "0x1003\n");
  for (const [name, dev] of [["nvme0n1", "259:0"], ["nvme0n1p1", "259:1"], ["nvme0n1p2", "259:2"], ["nvme0n1p3", "259:3"]] as const) {
    const parent = name === "nvme0n1" ? "" : "nvme0n1/";
    sysfs.links.set(`class/block/${name}`, `../../devices/pci0000:00/0000:00:06.0/nvme/nvme0/${parent}${name}`);
    sysfs.files.set(`class/block/${name}/dev`, `${dev}\n`);
  }
  sysfs.links.set("class/block/nvme0n1p3/holders/dm-0", "x");
  sysfs.links.set("class/block/sda", "../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda");
  sysfs.links.set("class/graphics/fb0/device", "../../../0000:00:02.0");
  return sysfs;
}

const busyProbe: HostProbe = {
  ...idleHostProbe,
  interfaceAddresses: async (name) => (name === "eth0" ? ["192.0.2.5"] : []),
  interfaceRoutes: async (name) => (name === "eth0" ? 2 : 0),
  mountedDevices: async () => new Set(["259:1"]),
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
