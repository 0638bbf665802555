import { test } from "node:test";
import assert from "node:assert/strict";
import { MsiCapability, msiCap32Layout, msiCap64Layout, msiCap64MaskLayout, msiCap32MaskLayout } from "../../../src/devices/pci/msi-capability.js";

test("MSI capability layouts match PCI 3.0 §6.8.1 (Figure 6-9)", () => {
  assert.deepEqual(msiCap32Layout.offsets, { capId: 0, next: 1, control: 2, addressLo: 4, data: 8 });
  assert.equal(msiCap32Layout.size, 10);
  assert.deepEqual(msiCap64Layout.offsets, { capId: 0, next: 1, control: 2, addressLo: 4, addressHi: 8, data: 12 });
  assert.equal(msiCap64Layout.size, 14);
  assert.equal(msiCap32MaskLayout.offsets.mask, 12);
  assert.equal(msiCap32MaskLayout.size, 20);
  assert.equal(msiCap64MaskLayout.offsets.mask, 16);
  assert.equal(msiCap64MaskLayout.offsets.pending, 20);
  assert.equal(msiCap64MaskLayout.size, 24);
});

test("install() writes id, next, Multiple Message Capable and the 64-bit/mask flags", () => {
  const config = new Uint8Array(256);
  const wmask = new Uint8Array(256);
  new MsiCapability(0x50, { vectors: 4, address64: true, perVectorMask: true }).install(config, wmask, 0x70);
  assert.equal(config[0x50], 0x05);
  assert.equal(config[0x51], 0x70);
  // MMC = log2(4) = 2 in bits 3:1, 64-bit bit 7, per-vector mask bit 8.
  assert.equal(config[0x52]! | (config[0x53]! << 8), (2 << 1) | 0x80 | 0x100);
  // Writable: Enable + MME; address bits 31:2; the mask bits of 4 vectors.
  assert.equal(wmask[0x52], 0x71);
  assert.equal(wmask[0x54], 0xfc);
  assert.equal(wmask[0x50 + 16], 0x0f);
});

test("message() replaces the low data bits with the vector when several are granted", () => {
  const config = new Uint8Array(256);
  const cap = new MsiCapability(0x40, { vectors: 4, address64: false, perVectorMask: false });
  cap.install(config, new Uint8Array(256), 0);
  config[0x42] = 0x01 | (2 << 4); // enable, MME = 4 vectors
  config.set([0x00, 0x00, 0xe0, 0xfe], 0x44); // 0xfee00000
  config.set([0x43, 0x41], 0x48); // data 0x4143
  assert.deepEqual(cap.message(config, 2), { address: 0xfee00000n, data: 0x4142, masked: false });
  assert.equal(cap.message(config, 4), undefined);
  config[0x42] = 2 << 4; // disabled
  assert.equal(cap.message(config, 0), undefined);
});

test("afterWrite() clamps Multiple Message Enable to Multiple Message Capable", () => {
  const config = new Uint8Array(256);
  const cap = new MsiCapability(0x40, { vectors: 2, address64: true, perVectorMask: false });
  cap.install(config, new Uint8Array(256), 0);
  config[0x42] = (config[0x42]! & 0x8f) | (5 << 4) | 1;
  cap.afterWrite(config);
  assert.equal(cap.state(config).vectorsEnabled, 2);
  assert.equal(cap.state(config).enabled, true);
});

test("vector counts other than powers of two up to 32 are refused", () => {
  assert.throws(() => new MsiCapability(0x40, { vectors: 3, address64: true, perVectorMask: false }), RangeError);
  assert.throws(() => new MsiCapability(0x40, { vectors: 64, address64: true, perVectorMask: false }), RangeError);
  assert.throws(() => new MsiCapability(0x40, { vectors: 0, address64: true, perVectorMask: false }), RangeError);
});
