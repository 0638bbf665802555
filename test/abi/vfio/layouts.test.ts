import { test } from "node:test";
import assert from "node:assert/strict";
import { vfioLayouts } from "../../../src/abi/vfio/layouts.js";
import { dmaMapLayout, dmaUnmapLayout } from "../../../src/abi/vfio/dma-map.js";
import { iommuInfoLayout } from "../../../src/abi/vfio/iommu-info.js";
import { regionInfoLayout } from "../../../src/abi/vfio/region-info.js";

test("every vfio layout round-trips a value with every byte of every field set", () => {
  for (const { layout } of vfioLayouts) {
    const value: Record<string, unknown> = {};
    let n = 1;
    for (const [key, field] of Object.entries(layout.fields)) {
      n++;
      if (field.kind === "u64" || field.kind === "i64") value[key] = BigInt.asUintN(64, 0x0102030405060708n * BigInt(n));
      else if (field.kind === "bytes") value[key] = new Uint8Array(field.size).fill(n);
      else value[key] = (0x01020304 * n) % 2 ** (8 * field.size);
    }
    const bytes = layout.encode(value as never);
    assert.equal(bytes.byteLength, layout.size, layout.name);
    assert.deepEqual(layout.decode(bytes), value, layout.name);
  }
});

test("layout names are unique C struct names", () => {
  const names = vfioLayouts.map((e) => e.layout.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^vfio_[a-z0-9_]+$/);
});

test("the type1 structs are pinned (redundant with the header check, readable without gcc)", () => {
  assert.equal(regionInfoLayout.size, 32);
  assert.equal(iommuInfoLayout.size, 24);
  assert.deepEqual(iommuInfoLayout.offsets, { argsz: 0, flags: 4, iovaPgsizes: 8, capOffset: 16 });
  assert.deepEqual(dmaMapLayout.offsets, { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 });
  assert.equal(dmaUnmapLayout.size, 24);
});
