import { test } from "node:test";
import assert from "node:assert/strict";
import { EduDevice } from "../../src/devices/edu.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { PCI_COMMAND } from "../../src/api/constants.js";
import { ModelDevice } from "./model-device.js";
import { eduDriverSuite } from "./edu-suite.js";

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
});

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
