/**
 * The kernel backend's container → group → device sequence, errors and lifecycle, against a
 * scripted Libc (no /dev/vfio needed). The guest suite (*.test.ts without .unit) checks the same
 * against Linux itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_TYPE1v2_IOMMU, VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_INFO_CAPS,
} from "../../src/api/constants.js";
import { openDevice } from "../../src/api/open-device.js";
import * as ioctl from "../../src/abi/ioctl-number.js";
import { encodeIommuCaps, encodeRegionCap } from "../../src/abi/cap-chain.js";
import { writeInfoReply } from "../../src/abi/info-reply.js";
import { groupStatusLayout } from "../../src/abi/vfio/group-status.js";
import { regionInfoLayout } from "../../src/abi/vfio/region-info.js";
import { iommuInfoLayout } from "../../src/abi/vfio/iommu-info.js";
import { dmaMapLayout } from "../../src/abi/vfio/dma-map.js";
import { KernelSystem } from "../../src/kernel/system.js";
import type { KernelDevice } from "../../src/kernel/device.js";
import { ScriptedLibc, fixtureSysfs, lockedMemory } from "./scripted-libc.js";

const E = ScriptedLibc.errno;
const DEV = "0000:00:03.0";

const sysfs = fixtureSysfs({
  "class/iommu/dmar0": { dir: true },
  [`bus/pci/devices/${DEV}/iommu_group`]: { link: "../../../kernel/iommu_groups/5" },
  [`kernel/iommu_groups/5/devices/${DEV}/driver`]: { link: "../../../../bus/pci/drivers/vfio-pci" },
  "kernel/iommu_groups/7/devices/0000:01:01.0/driver": { link: "../../../../bus/pci/drivers/vfio-pci" },
  "kernel/iommu_groups/7/devices/0000:01:02.0/driver": { link: "../../../../bus/pci/drivers/e1000" },
  "kernel/iommu_groups/7/devices/0000:00:04.0": { dir: true },
});

/** A libc that answers like Linux 6.1 for a viable group 5 holding DEV. */
function linuxLike(): ScriptedLibc {
  const libc = new ScriptedLibc();
  let containerSet = false;
  let iommuSet = false;
  libc.handlers.set(ioctl.VFIO_GET_API_VERSION, () => 0);
  libc.handlers.set(ioctl.VFIO_CHECK_EXTENSION, (_fd, ext) => (ext === VFIO_TYPE1v2_IOMMU || ext === 1 ? 1 : 0));
  libc.handlers.set(ioctl.VFIO_GROUP_GET_STATUS, (_fd, arg) => {
    groupStatusLayout.encode({ argsz: 8, flags: VFIO_GROUP_FLAGS_VIABLE | (containerSet ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0) }, arg as Uint8Array);
    return 0;
  });
  libc.handlers.set(ioctl.VFIO_GROUP_SET_CONTAINER, () => ((containerSet = true), 0));
  libc.handlers.set(ioctl.VFIO_SET_IOMMU, () => (containerSet ? ((iommuSet = true), 0) : E("EINVAL")));
  libc.handlers.set(ioctl.VFIO_GROUP_GET_DEVICE_FD, (_fd, name) => (!iommuSet ? E("EINVAL") : name === DEV ? 200 : E("ENODEV")));
  libc.handlers.set(ioctl.VFIO_IOMMU_MAP_DMA, () => (iommuSet ? 0 : E("EINVAL")));
  return libc;
}

test("openDevice() runs container → group → SET_CONTAINER → SET_IOMMU(type1v2) → GET_DEVICE_FD, and close() releases device, group, container in that order", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  const opened = await openDevice(system, DEV);
  assert.deepEqual(libc.calls.filter((c) => c.fn === "open").map((c) => c.path), ["/dev/vfio/vfio", "/dev/vfio/5"]);
  assert.deepEqual(libc.requests(), [ioctl.VFIO_GROUP_SET_CONTAINER, ioctl.VFIO_CHECK_EXTENSION, ioctl.VFIO_SET_IOMMU, ioctl.VFIO_GROUP_GET_DEVICE_FD]);
  const setContainer = libc.calls.find((c) => c.request === ioctl.VFIO_GROUP_SET_CONTAINER)!;
  const containerFd = (opened.container as unknown as { fd: number }).fd;
  assert.equal(new DataView((setContainer.arg as Uint8Array).buffer).getInt32(0, true), containerFd);
  assert.equal(opened.iommu, VFIO_TYPE1v2_IOMMU);
  const fds = [(opened.device as KernelDevice).fd, (opened.group as unknown as { fd: number }).fd, containerFd];
  libc.calls.length = 0;
  await opened.close();
  await opened.close();
  assert.deepEqual(libc.calls.filter((c) => c.fn === "close").map((c) => c.fd), fds);
  assert.deepEqual(system.open, { containers: 0, groups: 0, memory: 0, notifiers: 0 });
});

test("openDevice() falls back to type1 where the kernel offers only type1", async () => {
  const libc = linuxLike();
  libc.handlers.set(ioctl.VFIO_CHECK_EXTENSION, (_fd, ext) => (ext === 1 ? 1 : 0));
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using opened = await openDevice(system, DEV);
  assert.equal(opened.iommu, 1);
  assert.deepEqual(libc.calls.filter((c) => c.request === ioctl.VFIO_SET_IOMMU).map((c) => c.arg), [1]);
});

test("a failure part-way closes what was opened and keeps op, errno and target", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  libc.handlers.set(ioctl.VFIO_SET_IOMMU, () => E("ENODEV"));
  await assert.rejects(openDevice(system, DEV), (error: { op: string; code: string; target: string }) => {
    assert.equal(error.op, "VFIO_SET_IOMMU");
    assert.equal(error.code, "ENODEV");
    assert.match(error.target, /container/);
    return true;
  });
  assert.equal(libc.openFds.size, 0);
  assert.deepEqual(system.open, { containers: 0, groups: 0, memory: 0, notifiers: 0 });
});

test("device fd before SET_IOMMU is EINVAL with the missing step named", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using container = await system.openContainer();
  await using group = await system.openGroup(5);
  await group.setContainer(container);
  await assert.rejects(group.openDevice(DEV), (error: { op: string; code: string; hint?: string }) => {
    assert.equal(error.op, "VFIO_GROUP_GET_DEVICE_FD");
    assert.equal(error.code, "EINVAL");
    assert.match(error.hint ?? "", /VFIO_SET_IOMMU/);
    return true;
  });
});

test("a non-viable group's EPERM names the devices bound to host drivers", async () => {
  const libc = linuxLike();
  libc.handlers.set(ioctl.VFIO_GROUP_SET_CONTAINER, () => E("EPERM"));
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using container = await system.openContainer();
  await using group = await system.openGroup(7);
  await assert.rejects(group.setContainer(container), (error: { code: string; hint?: string; target: string }) => {
    assert.equal(error.code, "EPERM");
    assert.equal(error.target, "group 7");
    assert.match(error.hint ?? "", /0000:01:02\.0 \(e1000\)/);
    assert.doesNotMatch(error.hint ?? "", /0000:01:01\.0/);
    return true;
  });
});

test("opening /dev/vfio/N: ENOENT without an IOMMU, EACCES, and EBUSY each get their explanation", async () => {
  const libc = new ScriptedLibc();
  libc.openResults.set("/dev/vfio/9", E("ENOENT"));
  libc.openResults.set("/dev/vfio/5", E("EACCES"));
  libc.openResults.set("/dev/vfio/7", E("EBUSY"));
  libc.openResults.set("/dev/vfio/vfio", E("ENOENT"));
  const bare = new KernelSystem({ libc, sysfs: fixtureSysfs({}), lockedMemory: lockedMemory(0n) });
  await assert.rejects(bare.openGroup(9), (e: { code: string; hint?: string }) => e.code === "ENOENT" && /no IOMMU/.test(e.hint ?? ""));
  await assert.rejects(bare.openContainer(), (e: { code: string; op: string; hint?: string }) => e.code === "ENOENT" && e.op === "open" && /no IOMMU/.test(e.hint ?? ""));
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n) });
  await assert.rejects(system.openGroup(9), (e: { code: string; op: string; target?: string; hint?: string }) =>
    e.code === "ENOENT" && e.op === "open" && e.target === "/dev/vfio/9" && /no IOMMU group 9/.test(e.hint ?? ""));
  await assert.rejects(system.openContainer(), (e: { code: string; op: string; target?: string; hint?: string }) =>
    e.code === "ENOENT" && e.op === "open" && e.target === "/dev/vfio/vfio" && /modprobe vfio-pci/.test(e.hint ?? ""));
  await assert.rejects(system.openGroup(5), (e: { code: string; hint?: string }) => e.code === "EACCES" && /\/dev\/vfio\/5/.test(e.hint ?? ""));
  await assert.rejects(system.openGroup(7), (e: { code: string; hint?: string }) => e.code === "EBUSY" && /already open/.test(e.hint ?? ""));
});

test("MAP_DMA over RLIMIT_MEMLOCK fails with ENOMEM before the ioctl, naming the limit", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(8n << 20n, 6n << 20n) });
  const opened = await openDevice(system, DEV);
  libc.calls.length = 0;
  await assert.rejects(
    opened.container.mapDma({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4n << 20n }),
    (e: { code: string; op: string; hint?: string }) => e.code === "ENOMEM" && e.op === "VFIO_IOMMU_MAP_DMA" && /RLIMIT_MEMLOCK \(8 MiB; 6 MiB already locked\)/.test(e.hint ?? ""),
  );
  assert.deepEqual(libc.requests(), []);
  await opened.container.mapDma({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 2n << 20n });
  const map = dmaMapLayout.decode(libc.calls.at(-1)!.arg as Uint8Array);
  assert.deepEqual(map, { argsz: 32, flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 2n << 20n });
  await opened.close();
});

test("region info grows to the argsz the kernel asks for and decodes the sparse-mmap chain", async () => {
  const libc = linuxLike();
  const areas = [{ offset: 0n, size: 0x2000n }, { offset: 0x3000n, size: 0x1000n }];
  libc.handlers.set(ioctl.VFIO_DEVICE_GET_REGION_INFO, (_fd, arg) => {
    const buffer = arg as Uint8Array;
    const { index } = regionInfoLayout.decode(buffer);
    writeInfoReply(regionInfoLayout, { index, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP, size: 0x4000n, offset: BigInt(index) << 40n },
      [encodeRegionCap({ id: 1, kind: "sparse-mmap", version: 1, areas })], buffer, { capsFlag: VFIO_REGION_INFO_FLAG_CAPS });
    return 0;
  });
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using opened = await openDevice(system, DEV);
  const region = await opened.device.regionInfo(2);
  assert.equal(libc.requests().filter((r) => r === ioctl.VFIO_DEVICE_GET_REGION_INFO).length, 2);
  assert.equal(region.offset, 2n << 40n);
  assert.deepEqual(region.caps, [{ id: 1, kind: "sparse-mmap", version: 1, areas }]);

  // mmap honours the sparse areas: outside them EINVAL and no mmap call; inside, an mmap at the region's offset.
  libc.calls.length = 0;
  await assert.rejects(opened.device.mapRegion(2, 0x2000n, 0x1000n), { code: "EINVAL", op: "mmap" });
  await assert.rejects(opened.device.mapRegion(2, 0n, 0x4000n), { code: "EINVAL" });
  await assert.rejects(opened.device.mapRegion(2, 0x800n, 0x800n), { code: "EINVAL" });
  assert.equal(libc.calls.filter((c) => c.fn === "mmap").length, 0);
  const mapping = await opened.device.mapRegion(2, 0x3000n);
  assert.equal(mapping.size, 0x1000);
  assert.deepEqual(libc.calls.filter((c) => c.fn === "mmap").map((c) => c.arg), [(2n << 40n) + 0x3000n]);
  mapping.write32(0, 0x12345678);
  assert.equal(mapping.read32(0), 0x12345678);
  // Closing the device unmaps its regions.
  await opened.device.close();
  assert.throws(() => mapping.read32(0), { code: "EFAULT" });

  // Reads go to the region's offset in the fd.
});

test("reads and writes land at the region's offset in the device fd", async () => {
  const libc = linuxLike();
  libc.handlers.set(ioctl.VFIO_DEVICE_GET_REGION_INFO, (_fd, arg) => {
    const buffer = arg as Uint8Array;
    const { index } = regionInfoLayout.decode(buffer);
    if (index > 8) return E("EINVAL");
    writeInfoReply(regionInfoLayout, { index, flags: 3, size: 256n, offset: BigInt(index) << 40n }, [], buffer, { capsFlag: VFIO_REGION_INFO_FLAG_CAPS });
    return 0;
  });
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using opened = await openDevice(system, DEV);
  await opened.device.read(7, 4n, 2);
  await opened.device.write(7, 0x10n, new Uint8Array(4));
  assert.deepEqual(libc.calls.filter((c) => c.fn === "pread" || c.fn === "pwrite").map((c) => [c.fn, c.arg]), [["pread", (7n << 40n) + 4n], ["pwrite", (7n << 40n) + 0x10n]]);
  await assert.rejects(opened.device.read(9, 0n, 4), { code: "EINVAL", op: "region read" });
  await assert.rejects(opened.device.mapRegion(7), { code: "EINVAL", op: "mmap" });
});

test("IOMMU info decodes page sizes, IOVA ranges and DMA available", async () => {
  const libc = linuxLike();
  const ranges = [{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: 0x7fffffffffn }];
  libc.handlers.set(ioctl.VFIO_IOMMU_GET_INFO, (_fd, arg) => {
    writeInfoReply(iommuInfoLayout, { flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: 0x40201000n }, encodeIommuCaps({ iovaRanges: ranges, dmaAvailable: 65535 }), arg as Uint8Array,
      { capsFlag: VFIO_IOMMU_INFO_CAPS, copySize: 20 });
    return 0;
  });
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await using opened = await openDevice(system, DEV);
  const info = await opened.container.iommuInfo();
  assert.equal(info.iovaPgsizes, 0x40201000n);
  assert.deepEqual(info.iovaRanges, ranges);
  assert.equal(info.dmaAvailable, 65535);
  assert.equal(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
});

test("closed objects refuse work with EBADF and close() stays idempotent", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  const opened = await openDevice(system, DEV);
  await opened.close();
  await assert.rejects(opened.device.info(), { code: "EBADF" });
  await assert.rejects(opened.group.status(), { code: "EBADF" });
  await assert.rejects(opened.container.apiVersion(), { code: "EBADF" });
  await opened.container.close();
  await opened.group.close();
  await opened.device.close();
  assert.equal(libc.openFds.size, 0);
});

test("KernelSystem.close() releases containers, groups, notifiers and memory it made", async () => {
  const libc = linuxLike();
  const system = new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
  await openDevice(system, DEV);
  await system.openGroup(7);
  system.createNotifier();
  system.allocateMemory(4096);
  assert.deepEqual(system.open, { containers: 1, groups: 2, memory: 1, notifiers: 1 });
  await system.close();
  assert.deepEqual(system.open, { containers: 0, groups: 0, memory: 0, notifiers: 0 });
  assert.equal(libc.openFds.size, 0);
});
