import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import {
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
  deviceFeatureLayout, dmaLoggingControlLayout, dmaLoggingReportLayout, dmaMapLayout, regionAccessLayout,
} from "../../../src/abi/vfio-user/messages.js";
import { loadLibc } from "../../../src/native/libc.js";
import { allocateMemfd } from "../../../src/native/process-memory.js";
import { EDU_DMA_BUFFER_ADDRESS, EduDevice, EduRegister } from "../../../src/devices/edu.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const feature = (flags: number, argsz: number, ...data: Uint8Array[]): Uint8Array[] => [deviceFeatureLayout.encode({ argsz, flags }), ...data];
const access = (region: number, offset: bigint, count: number): Uint8Array => regionAccessLayout.encode({ offset, region, count });
const u64 = (v: bigint): Uint8Array => new Uint8Array(new BigUint64Array([v]).buffer);

test("DMA logging: START, a device write dirties its page, REPORT returns and clears the bitmap, STOP", async (t) => {
  const edu = new EduDevice();
  const peer = await rawPeer(t, { model: edu });
  const mem = allocateMemfd(loadLibc(), 0x4000, { name: "test-dma" });
  t.after(() => mem.free());
  await peer.request(VfioUserCommand.DMA_MAP, [dmaMapLayout.encode({ argsz: 32, flags: 3, address: 0x100000n, size: 0x4000n })], [mem.fd!]);
  const start = dmaLoggingControlLayout.encode({ pageSize: 4096n, numRanges: 0 });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET, 8))), 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_SET, 24, start))), 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_SET, 24, start))), 16);
  // edu writes 16 bytes to RAM at 0x102000 (page 2 of the window).
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 4n, 2), new Uint8Array([6, 0])]);
  for (const [reg, v] of [[EduRegister.dmaSource, EDU_DMA_BUFFER_ADDRESS], [EduRegister.dmaDestination, 0x102000n], [EduRegister.dmaCount, 16n], [EduRegister.dmaCommand, 3n]] as const) {
    await peer.request(VfioUserCommand.REGION_WRITE, [access(0, BigInt(reg), 8), u64(v)]);
  }
  await edu.whenIdle();
  const report = dmaLoggingReportLayout.encode({ iova: 0x100000n, length: 0x4000n, pageSize: 4096n });
  const reply = await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | VFIO_DEVICE_FEATURE_GET, 8 + 24 + 8, report));
  assert.equal(errnoOf(reply), 0);
  assert.equal(deviceFeatureLayout.decode(reply.payload).argsz, 40);
  assert.equal(reply.payload[32], 0b0100);
  const again = await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | VFIO_DEVICE_FEATURE_GET, 40, report));
  assert.equal(again.payload[32], 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | VFIO_DEVICE_FEATURE_GET, 32, report))), 28);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP | VFIO_DEVICE_FEATURE_SET, 8))), 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP | VFIO_DEVICE_FEATURE_SET, 8))), 22);
});

test("DEVICE_FEATURE: migration features are not supported (ENOTTY); GET and SET together are EINVAL", async (t) => {
  const peer = await rawPeer(t);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(1 | VFIO_DEVICE_FEATURE_GET, 16))), 25);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET, 8))), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_FEATURE, feature(VFIO_DEVICE_FEATURE_DMA_LOGGING_START | VFIO_DEVICE_FEATURE_SET, 24, dmaLoggingControlLayout.encode({ pageSize: 1000n })))), 22);
});
