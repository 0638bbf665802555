/**
 * The edu driver's behaviour, as one suite that runs on every backend that can host an edu:
 * the model double (test/drivers/model-device.ts), the emulated machine, and real Linux VFIO
 * with QEMU's edu in the test guest. Backend-specific observations (the IOMMU's fault log, the
 * device's buffer) come through optional hooks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { VfioDevice } from "../../src/api/device.js";
import type { DmaSpace } from "../../src/api/dma-space.js";
import { PCI_COMMAND } from "../../src/api/constants.js";
import { readConfig } from "../../src/api/pci-config.js";
import { EduDriver, EDU_MAX_TRANSFER } from "../../src/drivers/edu.js";

/** One opened edu on some backend. */
export interface EduTarget {
  readonly device: VfioDevice;
  readonly dma: DmaSpace;
  /** The IOMMU faults the backend saw since open, as [access, iova], where it can tell. */
  faults?(): readonly (readonly [string, bigint])[];
  /** The device's DMA buffer, where the backend can show it. */
  deviceBuffer?(): Uint8Array;
  close(): Promise<void>;
}

export interface EduSuiteOptions {
  /** Skip every test, with this reason (no backend here). */
  readonly skip?: string | false;
  readonly timeoutMs?: number;
  /** Run the INTx variant (default true); false where the backend does not route INTx. */
  readonly intx?: boolean;
  /** Whether this backend can map BAR0 (false for an MMIO model served over vfio-user): skips the mapped variants. */
  readonly mappableBar0?: boolean;
  /** Whether interrupts can reach the driver (false over a vfio-user transport without fds): skips the MSI and INTx tests. */
  readonly interrupts?: boolean;
  /** Whether the backend offers MSI (default true; false on UIO): the MSI variants then check the driver fell back to polling. */
  readonly msi?: boolean;
  /** Whether an IOMMU stands between device and memory (default true; false on UIO): skips the demonstration that it blocks. */
  readonly iommu?: boolean;
}

export function eduDriverSuite(backend: string, open: () => Promise<EduTarget>, options: EduSuiteOptions = {}): void {
  const skip = options.skip ?? false;
  const timeoutMs = options.timeoutMs ?? 5000;
  for (const variant of [
    { name: "mapped BAR0, MSI", mmap: true, completion: "msi" as const },
    { name: "region read/write, polling", mmap: false, completion: "poll" as const },
    // INTx through region read/write, so that the variant also runs where BAR0 cannot be mapped.
    ...(options.intx === false ? [] : [{ name: "region read/write, INTx", mmap: false, completion: "intx" as const }]),
  ]) {
    const unavailable =
      (variant.mmap && options.mappableBar0 === false && "BAR0 is not mmap-able on this backend") ||
      (variant.completion !== "poll" && options.interrupts === false && "no interrupts on this backend");
    describe(`edu driver on ${backend} (${variant.name})`, { skip: skip || unavailable }, () => {
      const start = async (t: { after(fn: () => Promise<void>): void }): Promise<{ driver: EduDriver; target: EduTarget }> => {
        const target = await open();
        let driver: EduDriver | undefined;
        // One hook, driver first: node:test runs after() hooks in the order they were added.
        t.after(async () => {
          await driver?.close();
          await target.close();
        });
        driver = await EduDriver.open(target.device, target.dma, { completion: variant.completion, mmap: variant.mmap, timeoutMs });
        return { driver, target };
      };

      test("open enables memory decoding and bus mastering and identifies edu 1.0", async (t) => {
        const { driver, target } = await start(t);
        assert.equal((await readConfig(target.device, PCI_COMMAND, 2)) & 0x6, 0x6);
        assert.deepEqual(driver.identity, { id: 0x010000ed, major: 1, minor: 0 });
        assert.equal(driver.mapped, variant.mmap);
        assert.equal(driver.completion, variant.completion === "msi" && options.msi === false ? "poll" : variant.completion);
        assert.ok(driver.bufferIova > 0n && driver.bufferIova < 1n << 28n);
      });

      test("liveness reads back inverted; factorial is n! modulo 2^32", async (t) => {
        const { driver } = await start(t);
        assert.deepEqual(await driver.checkLiveness(0x12345678), { wrote: 0x12345678, read: 0xedcba987, alive: true });
        assert.equal(await driver.factorial(10), 3628800);
        assert.equal(await driver.factorial(13), 1932053504);
        assert.equal(await driver.factorial(0), 1);
        assert.equal(await driver.factorial(34), 0);
        await assert.rejects(driver.factorial(-1), { code: "ERANGE" });
      });

      test("DMA into the device's buffer and back out", async (t) => {
        const { driver, target } = await start(t);
        const data = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13 + 5) & 0xff);
        await driver.dmaToDevice(data, 100);
        if (target.deviceBuffer) assert.deepEqual(target.deviceBuffer().subarray(100, 2148), data);
        assert.deepEqual(await driver.dmaFromDevice(2048, 100), data);
        assert.deepEqual(await driver.dmaFromDevice(16, 100), data.subarray(0, 16));
        await assert.rejects(driver.dmaToDevice(new Uint8Array(EDU_MAX_TRANSFER + 1)), { code: "ERANGE" });
        await assert.rejects(driver.dmaFromDevice(10, EDU_MAX_TRANSFER - 5), { code: "ERANGE" });
      });

      test("the IOMMU demonstration: nothing reaches unmapped memory and nothing comes from it", { skip: options.iommu === false && "no IOMMU on this backend (its own tests show the stray DMA landing)" }, async (t) => {
        const { driver, target } = await start(t);
        const demo = await driver.demonstrateIommu();
        assert.equal(demo.writeToMappedDelivered, true);
        assert.deepEqual(demo.writeToUnmapped, { completed: true, memoryChanged: false });
        assert.deepEqual(demo.readFromUnmapped, { completed: true, deviceBuffer: "zeros" });
        assert.equal(demo.blocked, true);
        await assert.rejects(driver.demonstrateIommu(1n << 28n), { code: "ERANGE" });
        await assert.rejects(driver.demonstrateIommu(driver.bufferIova), { code: "EINVAL" });
        if (target.faults) {
          assert.deepEqual(target.faults(), [["write", demo.unmappedIova], ["read", demo.unmappedIova]]);
        }
      });

      test("close turns bus mastering off, is idempotent, and later calls fail with EBADF", async (t) => {
        const { driver, target } = await start(t);
        await driver.close();
        await driver.close();
        assert.equal((await readConfig(target.device, PCI_COMMAND, 2)) & 0x4, 0);
        await assert.rejects(driver.factorial(3), { code: "EBADF" });
      });
    });
  }

  describe(`edu driver interrupts on ${backend}`, { skip: skip || (options.interrupts === false && "no interrupts on this backend") || (options.msi === false && "no MSI on this backend") }, () => {
    test("raiseInterrupt() receives the MSI and acknowledges it", async (t) => {
      const target = await open();
      let driver: EduDriver | undefined;
      t.after(async () => {
        await driver?.close();
        await target.close();
      });
      driver = await EduDriver.open(target.device, target.dma, { timeoutMs });
      assert.equal(driver.completion, "msi");
      assert.equal(await driver.raiseInterrupt(0x1000), 0x1000);
      assert.equal(await driver.raiseInterrupt(0x2), 0x2);
    });
  });
}
