import { test } from "node:test";
import assert from "node:assert/strict";
import { EduDevice } from "../../src/devices/edu.js";
import { openBar } from "../../src/drivers/bar-access.js";
import { ModelDevice } from "./model-device.js";

test("openBar maps an mmap-able region and reads and writes through the mapping", async () => {
  const dev = new ModelDevice(new EduDevice());
  const bar = await openBar(dev, 0);
  assert.equal(bar.mapped, true);
  assert.equal(await bar.read32(0x00), 0x010000ed);
  await bar.write32(0x04, 0xfffffffe);
  assert.equal(await bar.read32(0x04), 1);
  bar.close();
  bar.close();
  await assert.rejects(bar.read32(0x00), /unmapped/);
});

test("openBar falls back to region read/write when the region is not mmap-able, or when asked", async () => {
  const dev = new ModelDevice(new EduDevice());
  const forced = await openBar(dev, 0, { mmap: false });
  assert.equal(forced.mapped, false);
  await forced.write32(0x04, 0x80000000);
  assert.equal(await forced.read32(0x04), 0x7fffffff, "values above 2^31 survive as unsigned");
  dev.mmap = false;
  const fallback = await openBar(dev, 0);
  assert.equal(fallback.mapped, false);
  assert.equal(await fallback.read32(0x00), 0x010000ed);
  fallback.close();
});
