import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, hex, hexDigits } from "../../src/cli/format.js";

test("hex() and hexDigits() print lower-case, zero-padded hex", () => {
  assert.equal(hexDigits(0x8086, 4), "8086");
  assert.equal(hexDigits(0x20000, 6), "020000");
  assert.equal(hex(0xABCDn), "0xabcd");
  assert.equal(hex(0x80, 8), "0x00000080");
});

test("formatBytes() is re-exported for the CLI's size columns", () => {
  assert.equal(formatBytes(0x4000n), "16 KiB");
});
