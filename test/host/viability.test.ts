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

// The kernel's own answers, measured in a Linux 6.1 guest by the guest helper
// (scripts/guest/viability): VFIO_GROUP_GET_STATUS's VIABLE flag for each driver arrangement.
interface GuestCase {
  name: string;
  group: string;
  drivers?: Record<string, string | null>;
  viable?: boolean;
  containerSet?: boolean;
}

test("groupViability() agrees with Linux 6.1's VFIO_GROUP_GET_STATUS in every measured case", async () => {
  const { readFile } = await import("node:fs/promises");
  const { fixturePath } = await import("../helpers/fixtures.js");
  const data = JSON.parse(await readFile(fixturePath("guest/viability-linux-6.1.json"), "utf8")) as { kernel: string; cases: GuestCase[] };
  assert.match(data.kernel, /^6\.1\./);
  // A group attached to a container always reads viable (CONTAINER_SET): sysfs cannot show that, so those cases are out.
  const measured = data.cases.filter((c) => c.viable !== undefined && c.drivers !== undefined && c.containerSet !== true);
  assert.ok(measured.length >= 8, `${measured.length} cases`);
  for (const c of measured) {
    const members = Object.entries(c.drivers!).map(([name, driver]) => ({ name, driver: driver ?? undefined }));
    assert.equal(groupViability({ members }).viable, c.viable, c.name);
  }
});
