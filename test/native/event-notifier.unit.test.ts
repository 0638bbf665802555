import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { loadLibc, type Libc } from "../../src/native/libc.js";
import { KernelEventNotifier } from "../../src/native/event-notifier.js";

const openFds = (): number => readdirSync("/proc/self/fd").length;

test("a signal reaches an onSignal listener on the event loop with its count", async () => {
  using notifier = new KernelEventNotifier(loadLibc());
  const counts: bigint[] = [];
  const got = new Promise<void>((resolve) => notifier.onSignal((count) => { counts.push(count); resolve(); }));
  notifier.signal();
  notifier.signal();
  await got;
  assert.deepEqual(counts, [2n]);
});

test("signals before anyone waits accumulate and are delivered to next()", async () => {
  using notifier = new KernelEventNotifier(loadLibc());
  notifier.signal();
  notifier.signal();
  notifier.signal();
  assert.equal(await notifier.next(), 3n);
  assert.equal(notifier.take(), 0n);
});

test("take() drains the counter without waiting", () => {
  using notifier = new KernelEventNotifier(loadLibc());
  assert.equal(notifier.take(), 0n);
  notifier.signal();
  assert.equal(notifier.take(), 1n);
});

test("close() rejects a pending next() with EBADF, closes the fd, and is idempotent", async () => {
  const before = openFds();
  const notifier = new KernelEventNotifier(loadLibc());
  assert.equal(openFds(), before + 1);
  const pending = notifier.next();
  notifier.close();
  await assert.rejects(pending, { code: "EBADF" });
  notifier.close();
  assert.equal(notifier.fd, undefined);
  assert.equal(openFds(), before);
  assert.throws(() => notifier.signal(), { code: "EBADF" });
  await assert.rejects(notifier.next(), { code: "EBADF" });
});

test("a write from another fd holder (as the kernel's eventfd_signal) wakes the listener", async () => {
  const libc = loadLibc();
  using notifier = new KernelEventNotifier(libc);
  const value = new BigUint64Array([5n]);
  setTimeout(() => libc.write(notifier.fd!, new Uint8Array(value.buffer)), 5);
  assert.equal(await notifier.next(), 5n);
});

/** The real libc, with the number of poll (re)arms and stops counted. */
function countingWatches(): { libc: Libc; updates: number } {
  const real = loadLibc();
  const counted = { updates: 0, libc: real };
  counted.libc = {
    ...real,
    watch(fd, callback) {
      const watch = real.watch(fd, callback);
      return { update: (events) => { counted.updates++; watch.update(events); }, close: () => watch.close() };
    },
  };
  return counted;
}

test("a loop awaiting next() keeps the watch armed instead of stopping and restarting it per signal", async () => {
  const counted = countingWatches();
  using notifier = new KernelEventNotifier(counted.libc);
  let total = 0n;
  for (let i = 0; i < 20; i++) {
    setImmediate(() => notifier.signal());
    total += await notifier.next();
  }
  assert.equal(total, 20n);
  // One start for the first next(); stopping and restarting each time would be 40.
  assert.ok(counted.updates <= 2, `${counted.updates} watch updates`);
});

test("a signal that arrives while nobody waits stays in the counter for the next waiter", async () => {
  using notifier = new KernelEventNotifier(loadLibc());
  notifier.signal();
  assert.equal(await notifier.next(), 1n);
  // Nobody waits now; the watch may still be armed for a moment: the count must not be lost.
  notifier.signal();
  notifier.signal();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await notifier.next(), 2n);
});

/** A child process that makes a notifier, uses it as `mode` says, and should then exit by itself. */
function child(mode: string, timeout: number) {
  const libcUrl = new URL("../../src/native/libc.js", import.meta.url).href;
  const notifierUrl = new URL("../../src/native/event-notifier.js", import.meta.url).href;
  const source = `
    const { loadLibc } = await import(${JSON.stringify(libcUrl)});
    const { KernelEventNotifier } = await import(${JSON.stringify(notifierUrl)});
    const notifier = new KernelEventNotifier(loadLibc());
    switch (${JSON.stringify(mode)}) {
      case "idle": notifier.signal(); break;
      case "listener-closed": notifier.onSignal(() => notifier.close()); notifier.signal(); break;
      case "next-then-close": notifier.next().catch(() => {}); setTimeout(() => notifier.close(), 10); break;
      case "next-resolved": notifier.signal(); await notifier.next(); setTimeout(() => notifier.signal(), 5); break;
      case "listener-open": notifier.onSignal(() => {}); break;
    }
    process.stdout.write("done\\n");
  `;
  return spawnSync(process.execPath, ["--input-type=module", "-e", source], { timeout, encoding: "utf8" });
}

for (const mode of ["idle", "listener-closed", "next-then-close", "next-resolved"] as const) {
  test(`the process exits by itself once notifiers are closed or nobody waits (${mode})`, () => {
    const result = child(mode, 10_000);
    assert.equal(result.error, undefined, "the child did not exit within 10 s");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /done/);
  });
}

test("a notifier with a listener keeps the process alive until it is closed", () => {
  const result = child("listener-open", 3_000);
  // The child never closes its notifier: it must still be running when the timeout kills it.
  assert.equal(result.signal, "SIGTERM");
});
