import { test } from "node:test";
import assert from "node:assert/strict";
import { PciConfigSpace } from "../../../src/devices/pci/config-space.js";
import { readBar, writeBar } from "../../../src/devices/pci/bar-routing.js";
import {
  PCI_CAP_ID_MSIX, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_PBA, PCI_MSIX_TABLE,
} from "../../../src/api/pci-regs.js";
import { MsixTestModel } from "../../helpers/msix-test-model.js";

function setup() {
  const model = new MsixTestModel();
  const config = new PciConfigSpace(model);
  const sent: number[] = [];
  config.msix!.connect((vector) => sent.push(vector));
  const ctrl = (v: number) => BigInt(0x2000 + 16 * v + 12);
  return { model, config, sent, ctrl, cap: config.msixCap };
}

test("the MSI-X capability reads as §6.8.2 lays it out: Table Size N-1, BIR and offsets; only Enable and Function Mask are writable", () => {
  const { config, cap } = setup();
  assert.equal(config.read(cap, 1), PCI_CAP_ID_MSIX);
  assert.equal(config.read(cap + PCI_MSIX_FLAGS, 2), 7);
  assert.equal(config.read(cap + PCI_MSIX_TABLE, 4), 0x2000);
  assert.equal(config.read(cap + PCI_MSIX_PBA, 4), 0x3000);
  config.write(cap + PCI_MSIX_FLAGS, 2, 0xffff);
  assert.equal(config.read(cap + PCI_MSIX_FLAGS, 2), 0xc007);
  config.write(cap + PCI_MSIX_TABLE, 4, 0);
  assert.equal(config.read(cap + PCI_MSIX_TABLE, 4), 0x2000);
});

test("every vector is masked at reset; raising a masked vector sets its PBA bit, unmasking sends it once", () => {
  const { model, config, sent, ctrl, cap } = setup();
  assert.equal(config.msix!.raise(0), false, "MSI-X disabled: the host uses MSI or INTx");
  config.write(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
  assert.equal(readBar(config, model, 0, ctrl(5), 4), 1n);
  assert.equal(config.msix!.raise(5), true);
  assert.deepEqual(sent, []);
  assert.equal(readBar(config, model, 0, 0x3000n, 8), 1n << 5n);
  writeBar(config, model, 0, 0x3000n, 8, 0n);
  assert.equal(readBar(config, model, 0, 0x3000n, 8), 1n << 5n, "the PBA is read-only");
  writeBar(config, model, 0, ctrl(5), 4, 0n);
  assert.deepEqual(sent, [5]);
  assert.equal(readBar(config, model, 0, 0x3000n, 8), 0n);
  config.msix!.raise(5);
  assert.deepEqual(sent, [5, 5]);
});

test("Function Mask holds every vector pending; clearing it sends the unmasked ones; reset clears table and PBA", () => {
  const { model, config, sent, ctrl, cap } = setup();
  config.write(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  writeBar(config, model, 0, ctrl(1), 4, 0n);
  config.msix!.raise(1);
  config.msix!.raise(2);
  assert.deepEqual(sent, []);
  config.write(cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
  assert.deepEqual(sent, [1], "vector 2 keeps its own Mask Bit");
  assert.equal(config.msix!.pending(2), true);
  config.reset();
  assert.equal(config.msix!.pending(2), false);
  assert.equal(config.msix!.enabled, false);
  assert.equal(readBar(config, model, 0, ctrl(1), 4), 1n);
});

test("a table and PBA that overlap, or misaligned offsets, are refused", () => {
  const base = new MsixTestModel();
  assert.throws(() => new PciConfigSpace({ ...base, identity: base.identity, bars: base.bars, msiVectors: 0, intxPin: 0, msix: { ...base.msix, pbaOffset: 0x2040 } }), RangeError);
  assert.throws(() => new PciConfigSpace({ ...base, identity: base.identity, bars: base.bars, msiVectors: 0, intxPin: 0, msix: { ...base.msix, tableOffset: 0x2004 } }), RangeError);
});
