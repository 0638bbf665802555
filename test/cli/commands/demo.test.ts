import { test } from "node:test";
import assert from "node:assert/strict";
import { vfio } from "../../helpers/run-cli.js";

test("vfio demo tours the emulated machine: not-viable group, set-up, factorial, DMA, MSI, blocked DMA", async () => {
  const c = await vfio(["demo"]);
  assert.equal(c.status, 0, c.stderr);
  const text = c.stdout;
  assert.match(text, /group 2 +not viable +0000:00:04\.0 pci-bridge, 0000:01:01\.0 edu, 0000:01:02\.0 e1000 \[e1000\]/);
  assert.match(text, /VFIO_GROUP_SET_CONTAINER\(group 2\) +→ EPERM/);
  assert.match(text, /VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) +→ ok/);
  assert.match(text, /identification +→ 0x010000ed/);
  assert.match(text, /10! = 3628800/);
  assert.match(text, /"Hello from process memory, via the IOMMU!"/);
  assert.match(text, /eventfd signalled \(count 1\)/);
  assert.match(text, /blocked: no memory changed/);
  assert.match(text, /Request device \[00:03\.0\] fault addr 0x800000 \[fault reason 0x05\] PTE Write access is not set/);
});

test("vfio demo takes no arguments: a usage error, exit 2", async () => {
  const c = await vfio(["demo", "--bogus"]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /^vfio demo: .*--bogus/);
});
