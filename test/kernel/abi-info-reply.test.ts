// The abi layer against real Linux 6.1 (the test guest): the kernel's own VFIO_IOMMU_GET_INFO
// and VFIO_DEVICE_GET_REGION_INFO replies, short and full, must equal byte for byte what
// writeInfoReply() + encodeIommuCaps()/encodeRegionCap() produce from their decoded contents.
// That is what lets the emulated machine answer exactly as the kernel does.
// Raw koffi calls on purpose: this checks abi/, not kernel/. Skipped outside the guest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { decodeIommuCaps, decodeRegionCaps, encodeIommuCaps, encodeRegionCap } from "../../src/abi/cap-chain.js";
import { writeInfoReply } from "../../src/abi/info-reply.js";
import {
  VFIO_DEVICE_GET_REGION_INFO, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_SET_CONTAINER, VFIO_IOMMU_GET_INFO, VFIO_SET_IOMMU,
} from "../../src/abi/ioctl-number.js";
import { iommuInfoLayout } from "../../src/abi/vfio/iommu-info.js";
import { regionInfoLayout } from "../../src/abi/vfio/region-info.js";
import {
  VFIO_IOMMU_INFO_CAPS, VFIO_PCI_NUM_REGIONS, VFIO_REGION_INFO_FLAG_CAPS, VFIO_TYPE1v2_IOMMU,
} from "../../src/api/constants.js";

const skip = existsSync("/dev/vfio/vfio") && process.env["VFIO_GUEST"] === "1" ? false : "not inside the test guest (npm run test:kernel)";
const O_RDWR = 2;

interface Opened { container: number; group: number; device: number; close(): void }

async function openRaw(address: string): Promise<Opened & { ioctl: (fd: number, request: number, buffer: Uint8Array) => number }> {
  const { libcLibrary } = await import("../../src/native/ffi.js");
  const libc = libcLibrary();
  const open = libc.func("int open(const char *path, int flags)");
  const close = libc.func("int close(int fd)");
  const ioctl = libc.func("int ioctl(int fd, unsigned long request, void *arg)");
  const ioctlValue = libc.func("ioctl", "int", ["int", "unsigned long", "unsigned long"]);
  const ioctlName = libc.func("ioctl", "int", ["int", "unsigned long", "const char *"]);
  const group = basename(readlinkSync(`/sys/bus/pci/devices/${address}/iommu_group`));
  const containerFd = open("/dev/vfio/vfio", O_RDWR) as number;
  const groupFd = open(`/dev/vfio/${group}`, O_RDWR) as number;
  assert.ok(containerFd >= 0 && groupFd >= 0, "open container and group");
  assert.equal(ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, Int32Array.of(containerFd)), 0, "SET_CONTAINER");
  assert.equal(ioctlValue(containerFd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU");
  const deviceFd = ioctlName(groupFd, VFIO_GROUP_GET_DEVICE_FD, address) as number;
  assert.ok(deviceFd >= 0, "GET_DEVICE_FD");
  return {
    container: containerFd, group: groupFd, device: deviceFd,
    ioctl: (fd, request, buffer) => ioctl(fd, request, buffer) as number,
    close() {
      close(deviceFd);
      close(groupFd);
      close(containerFd);
    },
  };
}

test("VFIO_IOMMU_GET_INFO: the kernel's short and full replies equal writeInfoReply's, byte for byte", { skip }, async (t) => {
  const raw = await openRaw("0000:00:03.0");
  t.after(() => raw.close());
  const call = (argsz: number): Uint8Array => {
    const buffer = iommuInfoLayout.encode({ argsz });
    const whole = new Uint8Array(argsz);
    whole.set(buffer.subarray(0, Math.min(argsz, buffer.byteLength)));
    assert.equal(raw.ioctl(raw.container, VFIO_IOMMU_GET_INFO, whole), 0);
    return whole;
  };
  const short = call(iommuInfoLayout.size);
  const needed = iommuInfoLayout.decode(short).argsz;
  assert.ok(needed > iommuInfoLayout.size, "the kernel asks for room for its capability chain");
  const full = call(needed);
  const info = iommuInfoLayout.decode(full);
  const caps = decodeIommuCaps({ buffer: full, capOffset: info.capOffset, argsz: info.argsz, infoSize: iommuInfoLayout.size, flags: info.flags });
  t.diagnostic(`iommu caps: ${JSON.stringify(caps, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))}`);
  assert.ok(caps.iovaRanges && caps.dmaAvailable !== undefined && caps.migration);

  for (const [reply, argsz] of [[short, iommuInfoLayout.size], [full, needed]] as const) {
    const emulated = new Uint8Array(argsz);
    emulated.set(iommuInfoLayout.encode({ argsz }).subarray(0, argsz));
    writeInfoReply(iommuInfoLayout, { flags: info.flags & ~VFIO_IOMMU_INFO_CAPS, iovaPgsizes: info.iovaPgsizes }, encodeIommuCaps(caps), emulated,
      { capsFlag: VFIO_IOMMU_INFO_CAPS, copySize: 20 });
    assert.deepEqual([...emulated], [...reply], `argsz ${argsz}`);
  }
});

test("VFIO_DEVICE_GET_REGION_INFO: every region's replies, short and full, equal writeInfoReply's (edu and NVMe)", { skip }, async (t) => {
  for (const address of ["0000:00:03.0", "0000:00:06.0"]) {
    const raw = await openRaw(address);
    try {
      for (let index = 0; index < VFIO_PCI_NUM_REGIONS; index++) {
        const call = (argsz: number): Uint8Array | undefined => {
          const buffer = new Uint8Array(argsz);
          regionInfoLayout.encode({ argsz, index }, buffer);
          return raw.ioctl(raw.device, VFIO_DEVICE_GET_REGION_INFO, buffer) === 0 ? buffer : undefined;
        };
        const short = call(regionInfoLayout.size);
        if (!short) continue; // e.g. the VGA region of a non-VGA device: EINVAL.
        const needed = Math.max(regionInfoLayout.size, regionInfoLayout.decode(short).argsz);
        const full = call(needed)!;
        const info = regionInfoLayout.decode(full);
        const caps = decodeRegionCaps({ buffer: full, capOffset: info.capOffset, argsz: info.argsz, infoSize: regionInfoLayout.size, flags: info.flags });
        if (caps.length > 0) t.diagnostic(`${address} region ${index}: ${caps.map((c) => c.kind).join(", ")}`);
        for (const [reply, argsz] of [[short, regionInfoLayout.size], [full, needed]] as const) {
          const emulated = regionInfoLayout.encode({ argsz, index });
          const into = new Uint8Array(argsz);
          into.set(emulated);
          writeInfoReply(regionInfoLayout, { flags: info.flags & ~VFIO_REGION_INFO_FLAG_CAPS, index, size: info.size, offset: info.offset },
            caps.map(encodeRegionCap), into, { capsFlag: VFIO_REGION_INFO_FLAG_CAPS });
          assert.deepEqual([...into], [...reply], `${address} region ${index} argsz ${argsz}`);
        }
      }
    } finally {
      raw.close();
    }
  }
});
