import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSize, hex, hexDigits } from "../../src/cli/format.js";

test("hex() and hexDigits() print lower-case, zero-padded hex", () => {
  assert.equal(hexDigits(0x8086, 4), "8086");
  assert.equal(hexDigits(0x20000, 6), "020000");
  assert.equal(hex(0xABCDn), "0xabcd");
  assert.equal(hex(0x80, 8), "0x00000080");
});

test("formatSize() uses the largest binary unit that divides exactly", () => {
  assert.equal(formatSize(1n << 30n), "1 GiB");
  assert.equal(formatSize(8n << 20n), "8 MiB");
  assert.equal(formatSize(0x4000n), "16 KiB");
  assert.equal(formatSize(0x1800n), "6 KiB");
  assert.equal(formatSize(256n), "256 bytes");
  assert.equal(formatSize(0n), "0 bytes");
});
