import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes } from "../../src/api/format-bytes.js";

test("formatBytes() uses the largest binary unit that divides exactly", () => {
  assert.equal(formatBytes(1n << 30n), "1 GiB");
  assert.equal(formatBytes(8n << 20n), "8 MiB");
  assert.equal(formatBytes(0x4000n), "16 KiB");
  assert.equal(formatBytes(0x1800n), "6 KiB");
  assert.equal(formatBytes(256n), "256 bytes");
  assert.equal(formatBytes(0n), "0 bytes");
});
