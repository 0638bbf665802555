import { test } from "node:test";
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { EduDevice } from "../../src/devices/edu.js";
import { openBar } from "../../src/drivers/bar-access.js";
import { EduDriver } from "../../src/drivers/edu.js";
import { ModelDevice } from "./model-device.js";

/** Promises created while `body` runs (async_hooks sees every PROMISE init). */
async function promisesDuring(body: () => unknown): Promise<number> {
  let count = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === "PROMISE") count++;
    },
  });
  hook.enable();
  let result: unknown;
  try {
    result = body();
  } finally {
    hook.disable();
  }
  await result;
  return count;
}

test("openBar maps an mmap-able region: read32/write32 are synchronous and return plain values", async () => {
  const dev = new ModelDevice(new EduDevice());
  const bar = await openBar(dev, 0);
  assert.equal(bar.mapped, true);
  if (!bar.mapped) return;
  assert.equal(bar.read32(0x00), 0x010000ed);
  bar.write32(0x04, 0xfffffffe);
  assert.equal(bar.read32(0x04), 1);
  bar.writeAll([[0x04, 0x80000000], [0x04, 0x0000ffff]]);
  assert.equal(bar.read32(0x04), 0xffff0000, "writeAll writes in order; values above 2^31 read back unsigned");
  assert.equal(bar.registers.read32(0x00), 0x010000ed, "registers is the mapping itself");
  assert.equal(await promisesDuring(() => {
    for (let i = 0; i < 100; i++) bar.write32(0x04, bar.read32(0x04));
  }), 0, "no promise per register access on a mapped BAR");
  bar.close();
  bar.close();
  assert.throws(() => bar.read32(0x00));
});

test("openBar falls back to region read/write when the region is not mmap-able, or when asked", async () => {
  const dev = new ModelDevice(new EduDevice());
  const forced = await openBar(dev, 0, { mmap: false });
  assert.equal(forced.mapped, false);
  const pending = forced.write32(0x04, 0x80000000);
  assert.ok(pending instanceof Promise, "region access is asynchronous and says so");
  await pending;
  assert.equal(await forced.read32(0x04), 0x7fffffff, "values above 2^31 survive as unsigned");
  await forced.writeAll([[0x04, 1], [0x04, 2]]);
  assert.equal(await forced.read32(0x04), 0xfffffffd);
  dev.mmap = false;
  const fallback = await openBar(dev, 0);
  assert.equal(fallback.mapped, false);
  assert.equal(await fallback.read32(0x00), 0x010000ed);
  fallback.close();
});

test("the edu driver makes no promise per register access on a mapped BAR", async () => {
  // ModelDevice is the DMA space as well.
  const dev = new ModelDevice(new EduDevice());
  const edu = await EduDriver.open(dev, dev, { completion: "poll" });
  assert.equal(edu.mapped, true);
  const onMapped = await promisesDuring(() => edu.checkLiveness(7));
  const devRegion = new ModelDevice(new EduDevice());
  const viaRegion = await EduDriver.open(devRegion, devRegion, { completion: "poll", mmap: false });
  const onRegion = await promisesDuring(() => viaRegion.checkLiveness(7));
  // checkLiveness is one write and one read: the async method's own promise is all a mapped BAR costs.
  assert.equal(onMapped, 1, `mapped: ${onMapped} promises`);
  assert.ok(onRegion > onMapped + 2, `region: ${onRegion} promises, mapped: ${onMapped}`);
  assert.equal((await edu.checkLiveness(7)).alive, true);
  await edu.close();
  await viaRegion.close();
});
