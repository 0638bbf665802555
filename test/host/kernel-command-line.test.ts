import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIommuCommandLine } from "../../src/host/kernel-command-line.js";

test("parseIommuCommandLine() splits option lists and keeps the last occurrence", () => {
  const cmd = parseIommuCommandLine("BOOT_IMAGE=/vmlinuz intel_iommu=on,sm_on iommu=pt intremap=off intel_iommu=off");
  assert.deepEqual(cmd.intelIommu, ["off"]);
  assert.deepEqual(cmd.iommu, ["pt"]);
  assert.deepEqual(cmd.intremap, ["off"]);
  assert.equal(cmd.amdIommu, undefined);
});

test("parseIommuCommandLine() ignores what follows -- (init's arguments)", () => {
  assert.equal(parseIommuCommandLine("quiet -- intel_iommu=on").intelIommu, undefined);
});
