/**
 * Signalling a client's eventfd never blocks the server, whatever the client does with the
 * counter or the fd's O_NONBLOCK: a full counter is a signalled one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("a client racing the server to fill its blocking eventfd never stalls the server", { timeout: 60_000 }, () => {
  const child = fileURLToPath(new URL("./fixtures/racing-eventfd-client.js", import.meta.url));
  const run = spawnSync(process.execPath, [child, "1500"], { encoding: "utf8", timeout: 20_000 });
  // The child prints its result, then kills itself (its client threads may be blocked in a syscall).
  assert.ok(run.stdout.includes("signals"), `the server stalled (the child was ${run.signal ?? "exited"} after 20 s): ${run.stderr}`);
  assert.ok((JSON.parse(run.stdout) as { signals: number }).signals > 0);
});
