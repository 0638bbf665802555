import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMemlockLimit } from "../../src/host/memlock-limit.js";

test("parseMemlockLimit() reads soft and hard limits in bytes", () => {
  const limits = "Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         8388608              16777216             bytes\n";
  assert.deepEqual(parseMemlockLimit(limits), { soft: 8388608n, hard: 16777216n });
});

test("parseMemlockLimit() reads unlimited as undefined", () => {
  assert.deepEqual(parseMemlockLimit("Max locked memory         unlimited            unlimited            bytes\n"), { soft: undefined, hard: undefined });
});

test("parseMemlockLimit() resolves undefined without the line and rejects a garbled one", () => {
  assert.equal(parseMemlockLimit("Max open files  1024  4096  files\n"), undefined);
  assert.throws(() => parseMemlockLimit("Max locked memory  lots  lots  bytes\n"), { code: "EPROTO" });
});
