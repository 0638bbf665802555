import { test } from "node:test";
import assert from "node:assert/strict";
import { vfio } from "../helpers/run-cli.js";

test("vfio demo ends with the contrast: the stray DMA lands in memory on UIO, with one warning line", async () => {
  const c = await vfio(["demo"]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /bind 0000:00:03\.0 to uio_pci_generic +→ \/dev\/uio0; group type identity/);
  assert.match(c.stdout, /IOVA = physical address 0x[0-9a-f]+/);
  assert.match(c.stdout, /physical 0x100000 \(not the process's\) → landed: "written by a device nobody restrained"/);
  assert.match(c.stdout, /IOMMU faults recorded: 0\./);
  assert.equal(c.stderr.split("\n").filter((l) => /anywhere in memory/.test(l)).length, 1);
});
