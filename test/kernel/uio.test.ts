/**
 * UIO against real Linux 6.1 in the test guest's iommu-pt boot (scripts/guest/run --variant
 * iommu-pt): the group's default domain is identity, so the IOMMU does not translate for a
 * device on a host driver, uio_pci_generic included, while VFIO still gets translating domains.
 * The edu driver runs unchanged on UIO (factorial, DMA both ways, INTx re-armed through
 * PCI_COMMAND), and the stray DMA that VFIO blocks lands in memory: the bytes change.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readlinkSync, writeFileSync, existsSync } from "node:fs";
import { basename } from "node:path";
import { openDevice } from "../../src/api/open-device.js";
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX } from "../../src/api/constants.js";
import { readConfig } from "../../src/api/pci-config.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { LinuxUioSystem, openUioDevice, type OpenedUioDevice } from "../../src/uio/index.js";
import { eduDriverSuite } from "../drivers/edu-suite.js";
import { EDU, EDU2, edu, inGuest } from "./guest.js";

const variant = process.env["VFIO_GUEST_VARIANT"];
const skip: string | false = !inGuest
  ? "no /dev/vfio/vfio: real UIO runs in the test guest (npm run test:kernel)"
  : variant !== "iommu-pt"
    ? "UIO DMA needs the guest's iommu-pt boot (scripts/guest/run --variant iommu-pt), where the IOMMU does not translate for host drivers"
    : false;

const sysfsDevice = (address: string) => `/sys/bus/pci/devices/${address}`;
const driverOf = (address: string): string | undefined => {
  try {
    return basename(readlinkSync(`${sysfsDevice(address)}/driver`));
  } catch {
    return undefined;
  }
};

/** driver_override + drivers_probe, as /init binds vfio-pci (scripts/guest/init). */
function bindTo(address: string, driver: string): void {
  if (driverOf(address) === driver) return;
  if (driverOf(address)) writeFileSync(`${sysfsDevice(address)}/driver/unbind`, address);
  writeFileSync(`${sysfsDevice(address)}/driver_override`, driver);
  writeFileSync("/sys/bus/pci/drivers_probe", address);
  assert.equal(driverOf(address), driver);
}

const openUio = (mode: "uio" | "plain" = "uio"): Promise<OpenedUioDevice> => openUioDevice(new LinuxUioSystem(), EDU, { unsafeNoIommu: true, mode });

describe("UIO in the iommu-pt guest", { skip }, () => {
  before(() => bindTo(EDU, "uio_pci_generic"));
  after(() => bindTo(EDU, "vfio-pci"));

  test("uio_pci_generic made /sys/.../uio/uioN and /dev/uioN, and the group's default domain is identity", () => {
    assert.match(readFileSync(`${sysfsDevice(EDU)}/iommu_group/type`, "utf8"), /^identity/);
    assert.ok(existsSync(`${sysfsDevice(EDU)}/uio`));
  });

  eduDriverSuite(
    `UIO (${EDU}, uio_pci_generic, IOVA = physical address)`,
    async () => {
      const opened = await openUio();
      return { device: opened.device, dma: opened.dma, close: () => opened.close() };
    },
    { timeoutMs: 20_000, msi: false, iommu: false },
  );

  test("INTx: raiseInterrupt() is read from /dev/uioN and re-armed by clearing Interrupt Disable", async (t) => {
    const opened = await openUio();
    let driver: EduDriver | undefined;
    // One hook, driver first: node:test runs after() hooks in the order they were added.
    t.after(async () => {
      await driver?.close();
      await opened.close();
    });
    driver = await EduDriver.open(opened.device, opened.dma, { completion: "intx", timeoutMs: 20_000 });
    for (const bits of [0x1000, 0x2, 0x40]) assert.equal(await driver.raiseInterrupt(bits), bits);
    // After the last acknowledgement the driver unmasked: Interrupt Disable is clear again.
    assert.equal((await readConfig(opened.device, PCI_COMMAND, 2)) & PCI_COMMAND_INTX_DISABLE, 0);
  });

  test("no MSI: irqInfo says count 0 and SET_IRQS on the MSI index fails with EINVAL", async (t) => {
    const opened = await openUio();
    t.after(() => opened.close());
    assert.equal((await opened.device.irqInfo(VFIO_PCI_MSI_IRQ_INDEX)).count, 0);
    const notifier = opened.device.createNotifier();
    await assert.rejects(
      opened.device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] }),
      { code: "EINVAL" },
    );
  });

  test("the stray DMA VFIO blocks lands in memory on UIO, both ways", async (t) => {
    const opened = await openUio();
    t.after(() => opened.close());
    const bar = await opened.device.mapRegion(0);
    const command = await readConfig(opened.device, PCI_COMMAND, 2);
    await opened.device.write(7, BigInt(PCI_COMMAND), Uint8Array.of((command | 0x6) & 0xff, command >> 8));
    // The driver's buffer, and a victim page it never gives the device.
    const own = await opened.dma.allocate(4096, { limit: edu.DMA_LIMIT });
    const victim = await opened.dma.allocate(4096, { limit: edu.DMA_LIMIT });
    const run = async (src: bigint, dst: bigint, toRam: boolean): Promise<void> => {
      bar.write32(edu.DMA_SRC, Number(src));
      bar.write32(edu.DMA_DST, Number(dst));
      bar.write32(edu.DMA_COUNT, 256);
      bar.write32(edu.DMA_CMD, edu.DMA_START | (toRam ? edu.DMA_TO_RAM : 0));
      const deadline = Date.now() + 20_000;
      while ((bar.read32(edu.DMA_CMD) & edu.DMA_START) !== 0) {
        if (Date.now() > deadline) throw new Error("edu DMA did not complete");
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    const pattern = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 1) & 0xff);
    own.bytes.set(pattern);
    await run(own.iova, edu.BUFFER, false);
    victim.bytes.fill(0xee);
    // Device → the victim's physical address: nothing stops it.
    await run(edu.BUFFER, victim.iova, true);
    assert.deepEqual(victim.bytes.subarray(0, 256), pattern, "the stray write changed the victim's bytes");
    assert.equal(victim.bytes[256], 0xee);
    // The victim's memory → device → the driver's buffer: the device read what it was never given.
    const secret = Uint8Array.from({ length: 256 }, (_, i) => (0xa5 ^ i) & 0xff);
    victim.bytes.set(secret);
    own.bytes.fill(0);
    await run(victim.iova, edu.BUFFER, false);
    await run(edu.BUFFER, own.iova, true);
    assert.deepEqual(own.bytes.subarray(0, 256), secret, "the stray read fetched the victim's bytes");
    bar.unmap();
  });

  test("the same boot, on VFIO: the IOMMU blocks the stray DMA", async (t) => {
    const system = new KernelSystem();
    const opened = await openDevice(system, EDU2);
    let driver: EduDriver | undefined;
    t.after(async () => {
      await driver?.close();
      await opened.close();
      await system.close();
    });
    driver = await EduDriver.open(opened.device, opened.dma, { timeoutMs: 20_000 });
    const demo = await driver.demonstrateIommu();
    assert.equal(demo.blocked, true);
    assert.deepEqual(demo.writeToUnmapped, { completed: true, memoryChanged: false });
  });

  test("the plain userspace driver: BAR0 by mmap of resource0, factorial by polling, no interrupt, no DMA", async (t) => {
    const opened = await openUio("plain");
    t.after(() => opened.close());
    const command = await readConfig(opened.device, PCI_COMMAND, 2);
    await opened.device.write(7, BigInt(PCI_COMMAND), Uint8Array.of((command | 0x2) & 0xff, command >> 8));
    const bar = await opened.device.mapRegion(0);
    assert.equal(bar.read32(edu.ID) & 0xffff, 0x00ed);
    bar.write32(edu.LIVENESS, 0x12345678);
    assert.equal(bar.read32(edu.LIVENESS) >>> 0, 0xedcba987);
    bar.write32(edu.FACTORIAL, 10);
    const deadline = Date.now() + 20_000;
    while ((bar.read32(edu.STATUS) & 1) !== 0) {
      if (Date.now() > deadline) throw new Error("factorial did not complete");
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(bar.read32(edu.FACTORIAL), 3628800);
    assert.equal((await opened.device.irqInfo(0)).count, 0);
    await assert.rejects(opened.dma.allocate(4096), { code: "ENOTSUP" });
  });
});

test("without the opt-in, opening on UIO fails with EUNSAFE before touching the device", async () => {
  await assert.rejects(openUioDevice(new LinuxUioSystem(), EDU), { code: "EUNSAFE" });
});
