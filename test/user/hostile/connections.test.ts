/**
 * After 100 hostile connections (hostile-fuzzer.ts, fixed seed) the server is alive, answers a
 * fresh client, and holds exactly the fds and, after a collection, the memory it started with.
 * Run in a child with --expose-gc so memory is measured after garbage collection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("100 hostile connections leave no fd, no memory, and a working server", { timeout: 120_000 }, () => {
  const main = fileURLToPath(new URL("../fuzz/main.js", import.meta.url));
  const run = spawnSync(process.execPath, ["--expose-gc", main, "--phases", "5", "--connections", "20", "--seed", "20261204", "--json"], { encoding: "utf8", timeout: 110_000 });
  assert.equal(run.status, 0, `${run.signal ?? ""} ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { connections: number; fdsBefore: number; fdsAfter: number; memoryBefore: number; memoryAfter: number };
  assert.equal(report.connections, 100);
  assert.equal(report.fdsAfter, report.fdsBefore);
  assert.ok(report.memoryBefore > 0, "memory measured after a collection");
  assert.ok(report.memoryAfter - report.memoryBefore < 16 << 20, `memory grew by ${report.memoryAfter - report.memoryBefore} bytes`);
});
