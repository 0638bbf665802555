import { test } from "node:test";
import assert from "node:assert/strict";
import { EduDevice } from "../../src/devices/edu.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { PCI_COMMAND } from "../../src/api/constants.js";
import { ModelDevice } from "./model-device.js";
import { eduDriverSuite } from "./edu-suite.js";
import { openDevice } from "../../src/api/open-device.js";
import { EmulatedSystem } from "../../src/emu/system.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import type { MachineSpec } from "../../src/emu/machine.js";

/**
 * The default emulated machine with this project's edu model at 00:03.0, the device bound to
 * vfio-pci through sysfs as an administrator (or `vfio bind`) does.
 */
async function emulatedEdu(): Promise<{ system: EmulatedSystem; edu: EduDevice; address: string }> {
  const spec = defaultMachineSpec();
  const edu = new EduDevice();
  const address = "0000:00:03.0";
  const machine: MachineSpec = {
    ...spec,
    functions: spec.functions.map((f) => (f.address === "00:03.0" ? { ...f, model: () => edu } : f)),
  };
  const system = new EmulatedSystem(machine);
  await system.sysfs.write(`bus/pci/devices/${address}/driver_override`, "vfio-pci");
  await system.sysfs.write("bus/pci/drivers_probe", address);
  return { system, edu, address };
}

eduDriverSuite("the emulated machine", async () => {
  const { system, edu, address } = await emulatedEdu();
  const opened = await openDevice(system, address);
  const faultsBefore = system.machine.faults.length;
  return {
    device: opened.device,
    dma: opened.dma,
    faults: () => system.machine.faults.slice(faultsBefore).map((f) => [f.access, f.iova] as const),
    deviceBuffer: () => edu.dmaBuffer(),
    close: () => opened.close(),
  };
});

eduDriverSuite("the model double", async () => {
  const edu = new EduDevice();
  const dev = new ModelDevice(edu);
  return {
    device: dev,
    dma: dev,
    faults: () => dev.faults.map((f) => [f.access, f.address] as const),
    deviceBuffer: () => edu.dmaBuffer(),
    close: async () => {},
  };
}, { intx: false }); // the double routes MSI only

test("close releases MSI, DMA memory and the mapping", async () => {
  const dev = new ModelDevice(new EduDevice());
  const driver = await EduDriver.open(dev, dev);
  assert.ok(dev.iommu.size > 0);
  await driver.close();
  assert.equal(dev.iommu.size, 0);
  assert.equal(dev.msiTrigger, undefined);
  assert.equal(dev.config.msiState()!.enabled, false);
});

test("without bus mastering the device's MSI never arrives: the driver times out with ETIMEDOUT", async (t) => {
  const dev = new ModelDevice(new EduDevice());
  const driver = await EduDriver.open(dev, dev, { timeoutMs: 50 });
  t.after(() => driver.close());
  dev.config.write(PCI_COMMAND, 2, 0x2);
  await assert.rejects(driver.raiseInterrupt(), { code: "ETIMEDOUT" });
});

test("open refuses a device that is not an edu, with ENODEV, and leaves nothing behind", async () => {
  const other = new EduDevice();
  Object.defineProperty(other, "identity", { value: { ...other.identity, deviceId: 0x1111 } });
  const dev = new ModelDevice(other);
  await assert.rejects(EduDriver.open(dev, dev), { code: "ENODEV" });
  assert.equal(dev.config.read(PCI_COMMAND, 2), 0);
  assert.equal(dev.iommu.size, 0);
});
