/**
 * DMA_LOGGING_REPORT sizes are validated as Linux validates them (page_size a power of two of
 * at least 4 KiB), so a client cannot make one request cost millions of bit operations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import {
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_SET,
  deviceFeatureLayout, dmaLoggingControlLayout, dmaLoggingReportLayout, dmaMapLayout,
} from "../../../src/abi/vfio-user/messages.js";
import { allocateMemfd } from "../../../src/native/process-memory.js";
import { loadLibc } from "../../../src/native/libc.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

test("a report page of 1 byte is EINVAL; a 2^63 logging page reports whole words at once", async (t) => {
  const peer = await rawPeer(t);
  const m = allocateMemfd(loadLibc(), 1 << 16, { name: "log" });
  t.after(() => m.free());
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 0n, size: 1n << 16n })], [m.fd!])), 0);
  const start = dmaLoggingControlLayout.encode({ pageSize: 1n << 63n, numRanges: 0 });
  const startHead = deviceFeatureLayout.encode({ argsz: deviceFeatureLayout.size + start.byteLength, flags: VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_SET });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, [startHead, start])), 0);
  await peer.server.session!.dmaWrite(0n, Uint8Array.of(1));
  const report = (pageSize: bigint, length: bigint) => {
    const data = dmaLoggingReportLayout.encode({ iova: 0n, length, pageSize });
    return peer.request(VfioUserCommand.DEVICE_FEATURE, [deviceFeatureLayout.encode({ argsz: deviceFeatureLayout.size + dmaLoggingReportLayout.size + 8192, flags: VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | VFIO_DEVICE_FEATURE_GET }), data]);
  };
  assert.equal(errnoOf(await report(1n, 1n << 20n)), 22);
  assert.equal(errnoOf(await report(2048n, 1n << 20n)), 22);
  const ok = await report(4096n, 1n << 28n);
  assert.equal(errnoOf(ok), 0);
  const bitmap = ok.payload.subarray(deviceFeatureLayout.size + dmaLoggingReportLayout.size);
  assert.equal(bitmap.byteLength, (1 << 16) / 8);
  // One 2^63-byte logging page is dirty: every 4 KiB report page in the range is.
  assert.ok(bitmap.every((b) => b === 0xff));
});
