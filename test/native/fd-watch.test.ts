import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { watchFd, type FdEvents } from "../../src/native/fd-watch.js";
import { EFD_CLOEXEC, EFD_NONBLOCK, loadLibc } from "../../src/native/libc.js";

const one = new Uint8Array(new BigUint64Array([1n]).buffer);

test("a watch reports readability of a signalled eventfd, stops on no interest, and is silent once closed", async () => {
  const libc = loadLibc();
  const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0);
  const seen: FdEvents[] = [];
  const watch = watchFd(fd, (events) => {
    seen.push(events);
    watch.update({ readable: false, writable: false });
  });
  try {
    // Not started: nothing is reported although the fd becomes readable.
    assert.equal(libc.write(fd, one), 8);
    await sleep(20);
    assert.deepEqual(seen, []);
    watch.update({ readable: true, writable: false });
    for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(5);
    assert.deepEqual(seen, [{ readable: true, writable: false }]);
    // Stopped by the callback: the still-readable fd (level-triggered) is not reported again.
    await sleep(20);
    assert.equal(seen.length, 1);
    // Writable interest: an eventfd with room in its counter is writable at once.
    watch.update({ readable: false, writable: true });
    for (let i = 0; i < 100 && seen.length === 1; i++) await sleep(5);
    assert.deepEqual(seen[1], { readable: false, writable: true });
    watch.update({ readable: true, writable: false });
    watch.close();
    watch.close();
    watch.update({ readable: true, writable: false });
    await sleep(20);
    assert.equal(seen.length, 2);
  } finally {
    watch.close();
    libc.close(fd);
  }
});
