import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../../src/emu/machine.js";
import { defaultMachineSpec } from "../../../src/emu/default-machine.js";
import { renderSysfs } from "../../../src/emu/sysfs/emulated-sysfs.js";

test("the tree has Linux's layout: device directories under their bridges, relative links to groups and drivers", async () => {
  const sysfs = renderSysfs(new Machine(defaultMachineSpec({ guestInit: true })));
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:01:01.0"), "../../../devices/pci0000:00/0000:00:04.0/0000:01:01.0");
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:01:01.0/iommu_group"), "../../../../kernel/iommu_groups/2");
  assert.equal(await sysfs.readlink("devices/pci0000:00/0000:00:04.0/0000:01:02.0/driver"), "../../../../bus/pci/drivers/e1000");
  assert.equal(await sysfs.readlink("kernel/iommu_groups/2/devices/0000:01:02.0"), "../../../../devices/pci0000:00/0000:00:04.0/0000:01:02.0");
  assert.equal(await sysfs.read("bus/pci/devices/0000:01:02.0/vendor"), "0x8086\n");
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/class"), "0x00ff00\n");
  assert.equal(await sysfs.read("kernel/iommu_groups/2/devices/0000:01:01.0/driver_override"), "vfio-pci\n");
  assert.equal(await sysfs.read("kernel/iommu_groups/1/reserved_regions"), "0x00000000fee00000 0x00000000feefffff msi\n");
  assert.equal(await sysfs.read("bus/pci/devices/0000:02:00.0/reset_method"), "bus\n");
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/reset_method"), undefined);
  assert.deepEqual(await sysfs.list("kernel/iommu_groups"), ["0", "1", "2", "3", "4", "5", "6", "7"]);
  assert.equal(await sysfs.read("bus/pci/devices/0000:09:00.0/vendor"), undefined);
  assert.equal(await sysfs.list("bus/pci/devices/0000:00:03.0/vendor"), undefined);
});

test("writes change the machine: driver_override + drivers_probe binds, unbind releases", async () => {
  const machine = new Machine(defaultMachineSpec());
  const sysfs = renderSysfs(machine);
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:00:03.0/driver"), undefined);
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/driver_override"), "(null)\n");
  await sysfs.write("bus/pci/devices/0000:00:03.0/driver_override", "vfio-pci\n");
  await sysfs.write("bus/pci/drivers_probe", "0000:00:03.0");
  assert.equal(await sysfs.readlink("bus/pci/devices/0000:00:03.0/driver"), "../../../bus/pci/drivers/vfio-pci");
  assert.ok((await sysfs.list("bus/pci/drivers/vfio-pci"))!.includes("0000:00:03.0"));
  assert.ok(machine.vfioGroups.has(1));
  await sysfs.write("bus/pci/drivers/vfio-pci/unbind", "0000:00:03.0");
  assert.equal(machine.vfioGroups.has(1), false);
  await sysfs.write("bus/pci/devices/0000:00:03.0/driver_override", "\n");
  assert.equal(await sysfs.read("bus/pci/devices/0000:00:03.0/driver_override"), "(null)\n");
});

test("failed writes carry the errno the kernel's store method gives", async () => {
  const sysfs = renderSysfs(new Machine(defaultMachineSpec()));
  await assert.rejects(sysfs.write("bus/pci/devices/0000:00:03.0/vendor", "1"), { code: "EACCES", op: "sysfs write" });
  await assert.rejects(sysfs.write("bus/pci/devices/0000:00:03.0/nonexistent", "1"), { code: "ENOENT" });
  await assert.rejects(sysfs.write("bus/pci/devices/0000:00:03.0", "1"), { code: "EISDIR" });
  await assert.rejects(sysfs.write("bus/pci/drivers/e1000/unbind", "0000:00:03.0"), { code: "ENODEV" });
  await assert.rejects(sysfs.write("bus/pci/drivers/e1000/bind", "0000:00:03.0"), { code: "ENODEV" });
  await assert.rejects(sysfs.write("bus/pci/drivers/e1000/bind", "0000:01:02.0"), { code: "EBUSY" });
});

test("an unbind of an open vfio device waits for its close, signalling the REQ interrupt first", async () => {
  const { EmulatedSystem } = await import("../../../src/emu/system.js");
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const container = await system.openContainer();
  const group = await system.openGroup(1);
  await group.setContainer(container);
  await container.setIommu(3);
  const device = await group.openDevice("0000:00:03.0");
  const req = device.createNotifier();
  await device.setIrqs({ flags: 0x4 | 0x20, index: 4, start: 0, count: 1, notifiers: [req] });
  let unbound = false;
  const unbind = system.sysfs.write("bus/pci/drivers/vfio-pci/unbind", "0000:00:03.0").then(() => (unbound = true));
  assert.equal(await req.next(), 1n);
  assert.equal(unbound, false);
  await device.close();
  await unbind;
  assert.equal(await system.sysfs.readlink("bus/pci/devices/0000:00:03.0/driver"), undefined);
  await container.close();
});
