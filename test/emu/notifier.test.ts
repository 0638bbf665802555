import { test } from "node:test";
import assert from "node:assert/strict";
import { InProcessNotifier } from "../../src/emu/notifier.js";

test("signals add up like an eventfd counter and are delivered on the event loop, not inside signal()", async () => {
  const n = new InProcessNotifier();
  const seen: bigint[] = [];
  n.onSignal((c) => seen.push(c));
  n.signal();
  n.signal();
  assert.deepEqual(seen, []);
  await Promise.resolve();
  assert.deepEqual(seen, [2n]);
  n.close();
});

test("a signal with nobody listening stays pending until next() takes it", async () => {
  const n = new InProcessNotifier();
  n.signal();
  await new Promise((r) => setImmediate(r));
  assert.equal(await n.next(), 1n);
  n.close();
});

test("close() rejects waiters, drops later signals and is idempotent", async () => {
  const n = new InProcessNotifier();
  const waiting = n.next();
  n.close();
  n.close();
  await assert.rejects(waiting, { code: "EBADF" });
  n.signal();
  assert.equal(n.take(), 0n);
  await assert.rejects(n.next(), { code: "EBADF" });
});
