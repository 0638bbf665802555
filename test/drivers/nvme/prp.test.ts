import { test } from "node:test";
import assert from "node:assert/strict";
import { buildPrps, pagesSpanned } from "../../../src/drivers/nvme/prp.js";

const P = 4096;
const list = (n: number) => ({ iova: 0x9000_0000n, entries: new BigUint64Array(n) });

test("a transfer within one page has PRP1 only, wherever it starts", () => {
  assert.deepEqual(buildPrps(0x10000n, 4096, P, undefined), { prp1: 0x10000n, prp2: 0n, listEntries: 0 });
  assert.deepEqual(buildPrps(0x10200n, 3584, P, undefined), { prp1: 0x10200n, prp2: 0n, listEntries: 0 });
});

test("a transfer ending in the next page has PRP2 = that page (§4.1.1)", () => {
  assert.deepEqual(buildPrps(0x10000n, 8192, P, undefined), { prp1: 0x10000n, prp2: 0x11000n, listEntries: 0 });
  assert.deepEqual(buildPrps(0x10ffcn, 8, P, undefined), { prp1: 0x10ffcn, prp2: 0x11000n, listEntries: 0 });
});

test("a transfer over more than two pages gets a PRP list of the following pages", () => {
  const area = list(4);
  assert.deepEqual(buildPrps(0x10000n, 3 * 4096, P, area), { prp1: 0x10000n, prp2: 0x9000_0000n, listEntries: 2 });
  assert.deepEqual([...area.entries.subarray(0, 2)], [0x11000n, 0x12000n]);
  // Starting mid-page, 8 KiB touches three pages.
  assert.equal(pagesSpanned(0x10800n, 8192, P), 3);
  assert.deepEqual(buildPrps(0x10800n, 8192, P, area), { prp1: 0x10800n, prp2: 0x9000_0000n, listEntries: 2 });
  assert.deepEqual([...area.entries.subarray(0, 2)], [0x11000n, 0x12000n]);
});

test("a misaligned PRP1 or a list too short is a driver bug (RangeError), never sent", () => {
  assert.throws(() => buildPrps(0x10002n, 512, P, undefined), RangeError);
  assert.throws(() => buildPrps(0x10000n, 4 * 4096, P, list(2)), RangeError);
  assert.throws(() => buildPrps(0x10000n, 3 * 4096, P, undefined), RangeError);
});
