import { test } from "node:test";
import assert from "node:assert/strict";
import { knownHostDrivers } from "../../../src/emu/pci/host-drivers.js";
import { DRIVER_MANAGED_DMA_LINUX_6_1 } from "../../../src/api/driver-managed-dma.js";

test("emulated drivers set driver_managed_dma exactly when the Linux 6.1 list (api/) names them", () => {
  const managed = Object.values(knownHostDrivers).filter((d) => d.driverManagedDma).map((d) => d.name).sort();
  assert.deepEqual(managed, ["pci-stub", "pcieport", "vfio-pci"]);
  for (const name of managed) assert.ok(DRIVER_MANAGED_DMA_LINUX_6_1.has(name), name);
  assert.equal(knownHostDrivers["e1000"]!.driverManagedDma, false, "e1000 makes its group use the default DMA domain");
  assert.equal(knownHostDrivers["nvme"]!.driverManagedDma, false);
});
