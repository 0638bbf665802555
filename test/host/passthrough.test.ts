import { test } from "node:test";
import assert from "node:assert/strict";
import { libvirtHostdevXml, planPassthrough, qemuArguments } from "../../src/host/passthrough.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

function machine(e1000Driver: string | null): FakeKernelSysfs {
  return new FakeKernelSysfs([
    { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: null },
    { address: "0000:01:01.0", group: 4, classCode: "0x00ff00", nativeDriver: null, driver: "vfio-pci" },
    { address: "0000:01:02.0", group: 4, classCode: "0x020000", nativeDriver: "e1000", driver: e1000Driver },
  ], ["e1000", "vfio-pci"]);
}

test("planPassthrough() accepts a viable group and names the other vfio-pci endpoints as companions", async () => {
  const plan = await planPassthrough(machine("vfio-pci"), ["01:01.0"]);
  assert.deepEqual(plan, { devices: ["0000:01:01.0"], groups: [4], companions: ["0000:01:02.0"] });
  assert.deepEqual(qemuArguments(plan), ["-device", "vfio-pci,host=0000:01:01.0,id=hostdev0"]);
  assert.equal(libvirtHostdevXml(plan), [
    "<hostdev mode='subsystem' type='pci' managed='no'>",
    "  <driver name='vfio'/>",
    "  <source>",
    "    <address domain='0x0000' bus='0x01' slot='0x01' function='0x0'/>",
    "  </source>",
    "</hostdev>",
    "",
  ].join("\n"));
});

test("planPassthrough() rejects a group that a host driver keeps non-viable, and a device not on vfio-pci", async () => {
  await assert.rejects(planPassthrough(machine("e1000"), ["0000:01:01.0"]), { name: "VfioUsageError", code: "ENOTVIABLE" });
  await assert.rejects(planPassthrough(machine("e1000"), ["0000:01:02.0"]), { code: "ENOTBOUND" });
  await assert.rejects(planPassthrough(machine(null), ["0000:01:02.0"]), { code: "ENOTBOUND" });
});

test("planPassthrough() accepts an unbound member: it does not stop the group being viable", async () => {
  assert.deepEqual((await planPassthrough(machine(null), ["0000:01:01.0"])).companions, []);
});
