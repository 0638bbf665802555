import { test } from "node:test";
import assert from "node:assert/strict";
import { vfio } from "../../helpers/run-cli.js";

test("vfio demo tours the emulated machine: not-viable group, set-up, factorial, DMA, MSI, blocked DMA", async () => {
  const c = await vfio(["demo"]);
  assert.equal(c.status, 0, c.stderr);
  const text = c.stdout;
  // Step 1 reads the machine's sysfs as vfio ls does: ids and drivers, in group order.
  assert.match(text, /group 2 +not viable +0000:00:04\.0 1b36:0001, 0000:01:01\.0 1234:11e8, 0000:01:02\.0 8086:100e \[e1000\]/);
  assert.match(text, /Group 2 is not viable: 0000:01:02\.0 is bound to e1000, a driver that claims kernel DMA\./);
  // Steps 6-10 drive the device through the edu driver, as a user of the library would.
  assert.match(text, /EduDriver\.open\(device, dma\) +→ edu 1\.0, completions by msi/);
  assert.match(text, /edu\.factorial\(10\) +→ 10! = 3628800/);
  assert.match(text, /VFIO_GROUP_SET_CONTAINER\(group 2\) +→ EPERM/);
  assert.match(text, /VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) +→ ok/);
  assert.match(text, /identification +→ 0x010000ed/);
  assert.match(text, /"Hello from process memory, via the IOMMU!"/);
  assert.match(text, /edu\.raiseInterrupt\(\): the device raises it +→ eventfd signalled, interrupt status 0x1000/);
  assert.match(text, /edu\.demonstrateIommu\(0x800000\) +→ blocked: no memory changed/);
  assert.match(text, /blocked: no memory changed/);
  assert.match(text, /Request device \[00:03\.0\] fault addr 0x800000 \[fault reason 0x05\] PTE Write access is not set/);
});

test("vfio demo takes no arguments: a usage error, exit 2", async () => {
  const c = await vfio(["demo", "--bogus"]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /^vfio demo: .*--bogus/);
});
