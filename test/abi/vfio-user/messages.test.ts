/**
 * The vfio-user wire layouts pinned to the spec's tables (docs/interop/vfio-user.rst) and to
 * libvfio-user's include/vfio-user.h: sizes and field offsets, packed, little-endian.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand, vfioUserCommandName, vfioUserOp } from "../../../src/abi/vfio-user/command.js";
import { VFIO_USER_HEADER_SIZE, vfioUserHeaderLayout } from "../../../src/abi/vfio-user/header.js";
import * as m from "../../../src/abi/vfio-user/messages.js";

test("every layout has the size the spec gives it", () => {
  const sizes: [string, number, number][] = [
    ["vfio_user_header", vfioUserHeaderLayout.size, 16],
    ["vfio_user_version", m.versionLayout.size, 4],
    ["vfio_user_dma_map", m.dmaMapLayout.size, 32],
    ["vfio_user_dma_unmap", m.dmaUnmapLayout.size, 24],
    ["vfio_user_bitmap", m.dmaUnmapBitmapLayout.size, 16],
    ["vfio_user_device_info", m.deviceInfoLayout.size, 16],
    ["vfio_region_info", m.regionInfoLayout.size, 32],
    ["vfio_user_region_io_fds_request", m.regionIoFdsLayout.size, 16],
    ["vfio_user_sub_region_ioregionfd (spec)", m.subRegionIoregionfdLayout.size, 40],
    ["vfio_user_sub_region_ioeventfd (libvfio-user)", m.subRegionIoeventfdLayout.size, 48],
    ["vfio_irq_info", m.irqInfoLayout.size, 16],
    ["vfio_irq_set", m.irqSetLayout.size, 20],
    ["vfio_user_region_access", m.regionAccessLayout.size, 16],
    ["vfio_user_dma_region_access", m.dmaAccessLayout.size, 16],
    ["write multi head", m.writeMultiLayout.size, 8],
    ["write multi entry", m.writeMultiEntryLayout.size, 24],
    ["vfio_user_device_feature", m.deviceFeatureLayout.size, 8],
    ["dma_logging_control", m.dmaLoggingControlLayout.size, 16],
    ["dma_logging_range", m.dmaLoggingRangeLayout.size, 16],
    ["dma_logging_report", m.dmaLoggingReportLayout.size, 24],
    ["feature_migration", m.migrationFeatureLayout.size, 8],
    ["feature_mig_state", m.migStateFeatureLayout.size, 8],
    ["vfio_user_mig_data", m.migDataLayout.size, 8],
  ];
  for (const [name, actual, expected] of sizes) assert.equal(actual, expected, name);
  assert.equal(VFIO_USER_HEADER_SIZE, 16);
});

test("packed offsets: no padding where C would add it", () => {
  assert.deepEqual(vfioUserHeaderLayout.offsets, { msgId: 0, command: 2, msgSize: 4, flags: 8, error: 12 });
  assert.deepEqual(m.dmaMapLayout.offsets, { argsz: 0, flags: 4, offset: 8, address: 16, size: 24 });
  assert.deepEqual(m.regionAccessLayout.offsets, { offset: 0, region: 8, count: 12 });
  assert.deepEqual(m.irqSetLayout.offsets, { argsz: 0, flags: 4, index: 8, start: 12, count: 16 });
  assert.deepEqual(m.writeMultiEntryLayout.offsets, { offset: 0, region: 8, count: 12, data: 16 });
  assert.deepEqual(m.subRegionIoeventfdLayout.offsets, { gpaOffset: 0, size: 8, fdIndex: 16, type: 20, flags: 24, shadowMemFdIndex: 28, shadowOffset: 32, datamatch: 40 });
});

test("a header round-trips little-endian, byte for byte", () => {
  const bytes = vfioUserHeaderLayout.encode({ msgId: 0x1234, command: 9, msgSize: 0x20, flags: 0x21, error: 22 });
  assert.deepEqual([...bytes], [0x34, 0x12, 9, 0, 0x20, 0, 0, 0, 0x21, 0, 0, 0, 22, 0, 0, 0]);
  assert.deepEqual(vfioUserHeaderLayout.decode(bytes), { msgId: 0x1234, command: 9, msgSize: 0x20, flags: 0x21, error: 22 });
});

test("command numbers and names, 14 (the removed DIRTY_PAGES) undefined", () => {
  assert.equal(VfioUserCommand.REGION_WRITE_MULTI, 15);
  assert.equal(vfioUserCommandName(16), "DEVICE_FEATURE");
  assert.equal(vfioUserCommandName(14), undefined);
  assert.equal(vfioUserOp(9), "VFIO_USER_REGION_READ");
});
