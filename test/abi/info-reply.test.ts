import { test } from "node:test";
import assert from "node:assert/strict";
import { callWithArgsz } from "../../src/abi/argsz.js";
import { decodeIommuCaps, encodeIommuCaps } from "../../src/abi/cap-chain.js";
import { writeInfoReply } from "../../src/abi/info-reply.js";
import { iommuInfoLayout } from "../../src/abi/vfio/iommu-info.js";
import { VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES } from "../../src/api/constants.js";

const caps = { dmaAvailable: 100, iovaRanges: [{ start: 0n, end: 0xffffffffn }] };
const answer = (buffer: Uint8Array): void =>
  writeInfoReply(iommuInfoLayout, { flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: 0x1000n }, encodeIommuCaps(caps), buffer,
    { capsFlag: VFIO_IOMMU_INFO_CAPS, copySize: 20 });

test("writeInfoReply() to a short buffer sets CAPS, the needed argsz and cap_offset 0, and copies no chain", () => {
  const buffer = new Uint8Array(24).fill(0xee);
  answer(buffer);
  assert.deepEqual(iommuInfoLayout.decode(buffer).argsz, 24 + 12 + 32);
  assert.equal(iommuInfoLayout.decode(buffer).capOffset, 0);
  assert.equal(iommuInfoLayout.decode(buffer).flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  // Only offsetofend(cap_offset) = 20 bytes are copied back: the padding keeps what the user had.
  assert.deepEqual([...buffer.subarray(20)], [0xee, 0xee, 0xee, 0xee]);
});

test("writeInfoReply() and callWithArgsz() together deliver the chain on the second call", async () => {
  const buffer = await callWithArgsz({ layout: iommuInfoLayout }, answer);
  const info = iommuInfoLayout.decode(buffer);
  assert.equal(info.argsz, 68);
  assert.equal(info.capOffset, 24);
  assert.deepEqual(decodeIommuCaps({ buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: 24, flags: info.flags }), caps);
});

test("writeInfoReply() with no caps leaves CAPS clear and cap_offset 0", () => {
  const buffer = new Uint8Array(24);
  writeInfoReply(iommuInfoLayout, { flags: VFIO_IOMMU_INFO_PGSIZES }, [], buffer, { capsFlag: VFIO_IOMMU_INFO_CAPS });
  assert.deepEqual(iommuInfoLayout.decode(buffer), { argsz: 24, flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: 0n, capOffset: 0 });
});
