import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPciIds, noPciIds, parsePciIds } from "../../src/host/pci-ids.js";
import { fixturePath } from "../helpers/fixtures.js";

test("parsePciIds() names vendors and devices, skipping subsystem lines", async () => {
  const ids = await loadPciIds(fixturePath("pci-ids/sample.ids"));
  assert.equal(ids.vendor(0x8086), "Intel Corporation");
  assert.equal(ids.device(0x8086, 0x100e), "82540EM Gigabit Ethernet Controller");
  assert.equal(ids.device(0x8086, 0x29c0), "82G33/G31/P35/P31 Express DRAM Controller");
  assert.equal(ids.device(0x8086, 0x1100), undefined, "a subsystem id is not a device");
  assert.equal(ids.vendor(0xabcd), undefined);
});

test("parsePciIds() names a class by its subclass, else its class, as lspci does", () => {
  const ids = parsePciIds("C 01  Mass storage controller\n\t08  Non-Volatile memory controller\n\t\t02  NVM Express\nC 02  Network controller\n\t00  Ethernet controller\n");
  assert.equal(ids.className(0x010802), "Non-Volatile memory controller", "prog-if names are not shown");
  assert.equal(ids.className(0x010801), "Non-Volatile memory controller");
  assert.equal(ids.className(0x020000), "Ethernet controller");
  assert.equal(ids.className(0x028000), "Network controller");
  assert.equal(ids.className(0x0c0330), undefined);
});

test("parsePciIds() does not take class lines for devices of the last vendor", () => {
  const ids = parsePciIds("ffff  Illegal Vendor ID\nC 06  Bridge\n\t04  PCI bridge\n");
  assert.equal(ids.device(0xffff, 0x0004), undefined);
  assert.equal(ids.className(0x060400), "PCI bridge");
});

test("loadPciIds() with a missing file rejects with a usage error", async () => {
  await assert.rejects(loadPciIds(fixturePath("pci-ids/none.ids")), { name: "VfioUsageError", code: "ENOENT" });
});

test("noPciIds knows no names", () => {
  assert.equal(noPciIds.vendor(0x8086), undefined);
});
