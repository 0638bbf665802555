import { test } from "node:test";
import assert from "node:assert/strict";
import { callWithArgsz } from "../../src/abi/argsz.js";
import { regionInfoLayout } from "../../src/abi/vfio/region-info.js";
import { VfioSystemError } from "../../src/api/errors.js";

/** A callee that, like vfio_pci_ioctl_get_region_info, needs `need` bytes and reports it in argsz. */
function needing(need: number) {
  const calls: { argsz: number; index: number; length: number }[] = [];
  const perform = (buffer: Uint8Array): void => {
    const info = regionInfoLayout.decode(buffer);
    calls.push({ argsz: info.argsz, index: info.index, length: buffer.byteLength });
    regionInfoLayout.encode({ ...info, argsz: Math.max(info.argsz, need), capOffset: info.argsz >= need ? 32 : 0 }, buffer);
  };
  return { calls, perform };
}

test("callWithArgsz() calls once when the struct is big enough", async () => {
  const { calls, perform } = needing(32);
  const buffer = await callWithArgsz({ layout: regionInfoLayout, input: { index: 3 } }, perform);
  assert.deepEqual(calls, [{ argsz: 32, index: 3, length: 32 }]);
  assert.equal(buffer.byteLength, 32);
});

test("callWithArgsz() grows to the returned argsz and retries with the same input", async () => {
  const { calls, perform } = needing(104);
  const buffer = await callWithArgsz({ layout: regionInfoLayout, input: { index: 2 } }, perform);
  assert.deepEqual(calls, [{ argsz: 32, index: 2, length: 32 }, { argsz: 104, index: 2, length: 104 }]);
  assert.equal(regionInfoLayout.decode(buffer).capOffset, 32);
});

test("callWithArgsz() works with an async callee and passes its rejection through", async () => {
  const { perform } = needing(40);
  const buffer = await callWithArgsz({ layout: regionInfoLayout }, async (b) => perform(b));
  assert.equal(buffer.byteLength, 40);
  await assert.rejects(
    callWithArgsz({ layout: regionInfoLayout }, () => { throw new VfioSystemError("VFIO_DEVICE_GET_REGION_INFO", 22, "ioctl"); }),
    { code: "EINVAL", op: "VFIO_DEVICE_GET_REGION_INFO" },
  );
});

test("callWithArgsz() rejects an argsz beyond maxSize and one that keeps growing", async () => {
  await assert.rejects(callWithArgsz({ layout: regionInfoLayout, maxSize: 64 }, needing(65).perform), { name: "VfioProtocolError", field: "argsz" });
  let grow = 32;
  await assert.rejects(
    callWithArgsz({ layout: regionInfoLayout }, (b) => { grow += 8; regionInfoLayout.encode({ argsz: grow }, b); }),
    { name: "VfioProtocolError", field: "argsz" },
  );
});
