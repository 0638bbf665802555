import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EduDevice } from "../../src/devices/edu.js";
import { EduDriver, EDU_MAX_TRANSFER } from "../../src/drivers/edu.js";
import { PCI_COMMAND } from "../../src/api/constants.js";
import { ModelDevice } from "./model-device.js";

for (const variant of [
  { name: "mapped BAR0, MSI", mmap: true, completion: "msi" as const },
  { name: "region read/write, polling", mmap: false, completion: "poll" as const },
]) {
  describe(`edu driver on a model device (${variant.name})`, () => {
    const open = async (): Promise<{ driver: EduDriver; dev: ModelDevice; edu: EduDevice }> => {
      const edu = new EduDevice();
      const dev = new ModelDevice(edu);
      dev.mmap = variant.mmap;
      const driver = await EduDriver.open(dev, dev, { completion: variant.completion, timeoutMs: 2000 });
      return { driver, dev, edu };
    };

    test("open enables memory and bus mastering, identifies version 1.0, and picks the access path", async (t) => {
      const { driver, dev } = await open();
      t.after(() => driver.close());
      assert.equal(dev.config.read(PCI_COMMAND, 2) & 0x6, 0x6);
      assert.deepEqual(driver.identity, { id: 0x010000ed, major: 1, minor: 0 });
      assert.equal(driver.mapped, variant.mmap);
      assert.equal(driver.completion, variant.completion);
      assert.ok(driver.bufferIova < 1n << 28n);
    });

    test("liveness and factorial", async (t) => {
      const { driver } = await open();
      t.after(() => driver.close());
      assert.deepEqual(await driver.checkLiveness(0x12345678), { wrote: 0x12345678, read: 0xedcba987, alive: true });
      assert.equal(await driver.factorial(10), 3628800);
      assert.equal(await driver.factorial(13), 1932053504);
      assert.equal(await driver.factorial(0), 1);
      await assert.rejects(driver.factorial(-1), { code: "ERANGE" });
    });

    test("DMA to the device and back", async (t) => {
      const { driver, edu } = await open();
      t.after(() => driver.close());
      const data = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13) & 0xff);
      await driver.dmaToDevice(data, 100);
      assert.deepEqual(edu.dmaBuffer().subarray(100, 2148), data);
      assert.deepEqual(await driver.dmaFromDevice(2048, 100), data);
      await assert.rejects(driver.dmaToDevice(new Uint8Array(EDU_MAX_TRANSFER + 1)), { code: "ERANGE" });
      await assert.rejects(driver.dmaFromDevice(10, EDU_MAX_TRANSFER - 5), { code: "ERANGE" });
      assert.equal(edu.halted, undefined);
    });

    test("the IOMMU demonstration: nothing reaches unmapped memory, nothing comes from it", async (t) => {
      const { driver, dev, edu } = await open();
      t.after(() => driver.close());
      const demo = await driver.demonstrateIommu();
      assert.equal(demo.writeToMappedDelivered, true);
      assert.deepEqual(demo.writeToUnmapped, { completed: true, memoryChanged: false });
      assert.deepEqual(demo.readFromUnmapped, { completed: true, deviceBuffer: "zeros" });
      assert.equal(demo.blocked, true);
      assert.equal(demo.unmappedIova, (1n << 28n) - 4096n);
      assert.deepEqual(dev.faults.map((f) => [f.access, f.reason, f.address]), [
        ["write", "not-mapped", demo.unmappedIova],
        ["read", "not-mapped", demo.unmappedIova],
      ]);
      assert.deepEqual(edu.guestErrors.map((e) => e.kind), ["dma-blocked", "dma-blocked"]);
    });

    test("close releases MSI, DMA memory and the mapping, clears bus mastering, and is idempotent", async () => {
      const { driver, dev } = await open();
      await driver.close();
      await driver.close();
      assert.equal(dev.iommu.size, 0);
      assert.equal(dev.msiTrigger, undefined);
      assert.equal(dev.config.busMasterEnabled, false);
      assert.equal(dev.config.msiState()!.enabled, false);
      await assert.rejects(driver.factorial(3), { code: "ECLOSED" });
    });
  });
}

test("raiseInterrupt() sees the MSI and acknowledges it", async (t) => {
  const dev = new ModelDevice(new EduDevice());
  const driver = await EduDriver.open(dev, dev);
  t.after(() => driver.close());
  assert.equal(await driver.raiseInterrupt(0x1000), 0x1000);
  assert.equal(await driver.raiseInterrupt(0x2), 0x2);
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
