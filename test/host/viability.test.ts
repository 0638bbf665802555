import { test } from "node:test";
import assert from "node:assert/strict";
import { DRIVER_MANAGED_DMA_LINUX_6_1, driverClaimsKernelDma, groupViability } from "../../src/host/viability.js";

const group = (...drivers: (string | undefined)[]) => ({
  id: 7,
  type: "DMA",
  members: drivers.map((driver, i) => ({ name: `0000:01:0${i}.0`, driver })),
});

test("groupViability(): unbound members and driver_managed_dma drivers leave a group viable (Linux 6.1)", () => {
  assert.equal(groupViability(group(undefined, "vfio-pci", "pci-stub", "pcieport")).viable, true);
});

test("groupViability(): one member bound to a DMA-claiming driver makes the group not viable and is named", () => {
  const verdict = groupViability(group(undefined, "vfio-pci", "e1000"));
  assert.equal(verdict.viable, false);
  assert.deepEqual(verdict.blockers, [{ name: "0000:01:02.0", driver: "e1000" }]);
});

test("driverClaimsKernelDma() follows the 6.1 driver_managed_dma list", () => {
  assert.deepEqual([...DRIVER_MANAGED_DMA_LINUX_6_1].sort(), ["hisi_acc_vfio_pci", "mlx5_vfio_pci", "pci-stub", "pcieport", "vfio-pci"]);
  assert.equal(driverClaimsKernelDma(undefined), false);
  assert.equal(driverClaimsKernelDma("nvme"), true);
  assert.equal(driverClaimsKernelDma("vfio_pci"), true, "the sysfs name is vfio-pci; anything else is another driver");
});
