/**
 * A client that shrinks the file behind a DMA window while the device uses it: each access
 * moves its bytes or fails as a DMA fault; the server is never killed by SIGBUS.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("a window truncated under the device's DMA: faults, no SIGBUS", { timeout: 60_000 }, () => {
  const child = fileURLToPath(new URL("./fixtures/truncating-client.js", import.meta.url));
  const run = spawnSync(process.execPath, [child, "1500"], { encoding: "utf8", timeout: 50_000 });
  assert.equal(run.signal, null, `killed by ${run.signal}: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  const { faults, moved } = JSON.parse(run.stdout) as { faults: number; moved: number };
  assert.ok(faults + moved > 0);
});
