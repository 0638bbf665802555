import { test } from "node:test";
import assert from "node:assert/strict";
import { vfio } from "../helpers/run-cli.js";

test("vfio demo ends with the contrast: the stray DMA lands in memory on UIO, with one warning line", async () => {
  const c = await vfio(["demo"]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /bind 0000:00:03\.0 to uio_pci_generic +→ \/dev\/uio0; group type identity/);
  // The same EduDriver as under VFIO drives it; the machine shows where the stray write went.
  assert.match(c.stdout, /EduDriver\.open\(device, dma\) +→ buffer at IOVA 0x[0-9a-f]+ = its physical address/);
  assert.match(c.stdout, /edu\.demonstrateIommu\(0x100000\): not the process's memory +→ landed: 64 of 64 bytes there changed/);
  assert.match(c.stdout, /IOMMU faults recorded: 0\./);
  assert.equal(c.stderr.split("\n").filter((l) => /anywhere in memory/.test(l)).length, 1);
});
