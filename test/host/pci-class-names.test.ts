import { test } from "node:test";
import assert from "node:assert/strict";
import { builtinPciClassName } from "../../src/host/pci-class-names.js";

test("builtinPciClassName() names known subclasses, else the base class", () => {
  assert.equal(builtinPciClassName(0x060400), "PCI bridge");
  assert.equal(builtinPciClassName(0x060401), "PCI bridge", "the programming interface does not matter");
  assert.equal(builtinPciClassName(0x020000), "Ethernet controller");
  assert.equal(builtinPciClassName(0x028000), "Network controller");
  assert.equal(builtinPciClassName(0xff0000), "Unassigned class");
  assert.equal(builtinPciClassName(0x200000), undefined);
});
