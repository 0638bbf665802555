import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nodeSysfs } from "../../src/host/node-sysfs.js";
import { parsePciAddress } from "../../src/api/pci-address.js";
import { listPciDevices, readPciDevice } from "../../src/host/pci-devices.js";
import { fixturePath } from "../helpers/fixtures.js";
import { buildMachineTree, GUEST_LIKE } from "../helpers/machine-tree.js";

test("listPciDevices() reads this machine's capture: six virtio-era devices, no groups", async () => {
  const devices = await listPciDevices(nodeSysfs({ root: fixturePath("sysfs/host-no-iommu/sys") }));
  assert.deepEqual(devices.map((d) => d.address), ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0", "0000:00:05.0"]);
  const net = devices[3]!;
  assert.equal(net.vendorId, 0x1af4);
  assert.equal(net.deviceId, 0x1041);
  assert.equal(net.classCode, 0x020000);
  assert.equal(net.driver, "virtio-pci");
  assert.equal(net.iommuGroup, undefined);
  assert.equal(net.numaNode, undefined, "numa_node -1 means none");
  assert.equal(net.driverOverride, undefined, "(null) means none");
  assert.equal(devices[0]!.driver, undefined);
});

test("readPciDevice() follows bridges, groups, boot_vga, reset_method", async (t) => {
  const tree = await buildMachineTree(GUEST_LIKE);
  t.after(tree.cleanup);
  const sysfs = nodeSysfs({ root: join(tree.root, "sys") });
  const e1000 = await readPciDevice(sysfs, parsePciAddress("01:02.0"));
  assert.equal(e1000?.driver, "e1000");
  assert.equal(e1000?.iommuGroup, 2);
  // No reset_method file (Linux hides it for a device it cannot reset): sysfs alone cannot
  // tell that from a kernel before 5.15, so readPciDevice says unknown (diagnose() knows the kernel).
  assert.equal(e1000?.resetMethods, undefined);
  assert.equal(await readPciDevice(sysfs, parsePciAddress("09:00.0")), undefined);
});

test("readPciDevice() links SR-IOV physical and virtual functions", async (t) => {
  const tree = await buildMachineTree({
    devices: [
      { address: "0000:03:00.0", vendor: 0x8086, device: 0x1521, classCode: 0x020000, driver: "igb", group: 10, numaNode: 1, resetMethod: "flr bus" },
      { address: "0000:03:10.0", vendor: 0x8086, device: 0x1520, classCode: 0x020000, group: 11, physfn: "0000:03:00.0" },
      { address: "0000:03:10.4", vendor: 0x8086, device: 0x1520, classCode: 0x020000, group: 12, physfn: "0000:03:00.0" },
    ],
  });
  t.after(tree.cleanup);
  const sysfs = nodeSysfs({ root: join(tree.root, "sys") });
  const pf = await readPciDevice(sysfs, parsePciAddress("03:00.0"));
  assert.deepEqual(pf?.virtfns, ["0000:03:10.0", "0000:03:10.4"]);
  assert.equal(pf?.numaNode, 1);
  assert.deepEqual(pf?.resetMethods, ["flr", "bus"]);
  const vf = await readPciDevice(sysfs, parsePciAddress("03:10.4"));
  assert.equal(vf?.physfn, "0000:03:00.0");
});

test("readPciDevice() rejects malformed sysfs contents with EPROTO naming the file", async (t) => {
  const tree = await buildMachineTree({ devices: [{ address: "0000:00:02.0", vendor: 0x8086, device: 0x1234, classCode: 0x030000 }] });
  t.after(tree.cleanup);
  await writeFile(join(tree.root, "sys/devices/pci0000:00/0000:00:02.0/vendor"), "intel\n");
  await assert.rejects(readPciDevice(nodeSysfs({ root: join(tree.root, "sys") }), parsePciAddress("00:02.0")), {
    name: "VfioProtocolError",
    code: "EPROTO",
    field: "bus/pci/devices/0000:00:02.0/vendor",
  });
});

test("listPciDevices() rejects an entry that is not a PCI address", async (t) => {
  const tree = await buildMachineTree({ devices: [] });
  t.after(tree.cleanup);
  await mkdir(join(tree.root, "sys/bus/pci/devices/garbage"), { recursive: true });
  await assert.rejects(listPciDevices(nodeSysfs({ root: join(tree.root, "sys") })), { code: "EPROTO" });
});
