import { test } from "node:test";
import assert from "node:assert/strict";
import { IOC_READ, IOC_WRITE, io, ioc, VFIO_DEVICE_GET_REGION_INFO, VFIO_GET_API_VERSION, VFIO_IOMMU_UNMAP_DMA } from "../../src/abi/ioctl-number.js";

test("io() encodes type and nr as asm-generic/ioctl.h's _IO", () => {
  assert.equal(VFIO_GET_API_VERSION, 0x3b64);
  assert.equal(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
  assert.equal(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
  assert.equal(io(";", 100), 0x3b64);
});

test("ioc() puts direction in bits 30-31 and size in 16-29, unsigned", () => {
  // TCGETS is _IO('T', 1) = 0x5401; FIONREAD is 0x541b; _IOR('T', 0x30, 4) = TIOCGPTN 0x80045430.
  assert.equal(ioc(IOC_READ, "T", 0x30, 4), 0x80045430);
  assert.equal(ioc(IOC_WRITE, "T", 0x31, 4), 0x40045431);
  assert.throws(() => ioc(0, ";", 256, 0), RangeError);
  assert.throws(() => ioc(0, ";", 1, 1 << 14), RangeError);
});
