/**
 * The edu driver, unchanged, on the UIO backend over the emulated machine booted with
 * iommu=pt: the same suite the kernel and emulated VFIO backends pass (test/drivers/edu-suite.ts),
 * minus MSI (uio_pci_generic has none) and minus the IOMMU demonstration (there is none: the
 * stray DMA lands, stray-dma.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE } from "../../src/api/constants.js";
import { readConfig } from "../../src/api/pci-config.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { openUioDevice } from "../../src/uio/open.js";
import { eduDriverSuite } from "../drivers/edu-suite.js";
import { EDU, uioMachine } from "./emulated-machine.js";

eduDriverSuite(
  "UIO on the emulated machine (iommu=pt)",
  async () => {
    const { system } = await uioMachine();
    const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
    return { device: opened.device, dma: opened.dma, close: () => opened.close() };
  },
  { msi: false, iommu: false },
);

test("INTx on UIO: each interrupt is counted on /dev/uioN, masked by the kernel, re-armed by the driver's unmask", async (t) => {
  const { system, machine } = await uioMachine();
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  let driver: EduDriver | undefined;
  t.after(async () => {
    await driver?.close();
    await opened.close();
  });
  driver = await EduDriver.open(opened.device, opened.dma, { completion: "intx" });
  assert.equal(driver.completion, "intx");
  const registration = machine.uio.byNumber(opened.uio!)!;
  const before = registration.events;
  assert.equal(await driver.raiseInterrupt(0x1000), 0x1000);
  assert.equal(await driver.raiseInterrupt(0x4), 0x4);
  assert.equal(await driver.factorial(5), 120);
  assert.equal(registration.events - before, 3);
  assert.equal((await readConfig(opened.device, PCI_COMMAND, 2)) & PCI_COMMAND_INTX_DISABLE, 0);
  assert.equal((await system.sysfs.read(`class/uio/uio${opened.uio}/event`))?.trim(), String(registration.events));
});
