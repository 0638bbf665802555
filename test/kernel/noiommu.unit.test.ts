/**
 * VFIO's no-IOMMU mode through the kernel backend, against a scripted Libc answering as Linux
 * 6.1's drivers/vfio/container.c does for a fake group (no guest kernel here is built with
 * CONFIG_VFIO_NOIOMMU, so this is the evidence until one is), and on the emulated machine,
 * which has an IOMMU and so, as Linux, no fake groups.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VFIO_NOIOMMU_IOMMU, VFIO_TYPE1v2_IOMMU } from "../../src/api/constants.js";
import type { DmaSpace } from "../../src/api/dma-space.js";
import { openNoIommuDevice } from "../../src/api/open-noiommu-device.js";
import * as ioctl from "../../src/abi/ioctl-number.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { EmulatedSystem } from "../../src/emu/system.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { ScriptedLibc, fixtureSysfs, lockedMemory } from "./scripted-libc.js";

const E = ScriptedLibc.errno;
const DEV = "0000:00:03.0";
const noDma: DmaSpace = { allocate: async () => { throw new Error("not used"); } };

const sysfs = fixtureSysfs({
  [`bus/pci/devices/${DEV}/iommu_group`]: { link: "../../../kernel/iommu_groups/0" },
  "kernel/iommu_groups/0/name": "vfio-noiommu\n",
  "bus/pci/devices/0000:00:04.0/iommu_group": { link: "../../../kernel/iommu_groups/1" },
});

/** vfio-noiommu as container.c has it: CHECK_EXTENSION(8) with the mode on; SET_IOMMU(8) needs CAP_SYS_RAWIO; no DMA ioctls. */
function noiommuKernel(options: { mode: boolean; rawio: boolean }): ScriptedLibc {
  const libc = new ScriptedLibc();
  let attached = false;
  let iommu = false;
  libc.handlers.set(ioctl.VFIO_GROUP_SET_CONTAINER, () => (options.rawio ? ((attached = true), 0) : E("EPERM")));
  libc.handlers.set(ioctl.VFIO_CHECK_EXTENSION, (_fd, ext) => (options.mode && ext === VFIO_NOIOMMU_IOMMU ? 1 : 0));
  libc.handlers.set(ioctl.VFIO_SET_IOMMU, (_fd, type) => {
    if (!attached) return E("EINVAL");
    if (type !== VFIO_NOIOMMU_IOMMU || !options.mode) return E("ENODEV");
    if (!options.rawio) return E("EPERM");
    iommu = true;
    return 0;
  });
  libc.handlers.set(ioctl.VFIO_GROUP_GET_DEVICE_FD, (_fd, name) => (!iommu ? E("EINVAL") : name === DEV ? 200 : E("ENODEV")));
  libc.handlers.set(ioctl.VFIO_IOMMU_MAP_DMA, () => E("ENOTTY"));
  return libc;
}

const system = (libc: ScriptedLibc) => new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });

test("no-IOMMU: /dev/vfio/noiommu-N, SET_CONTAINER, CHECK_EXTENSION(VFIO_NOIOMMU_IOMMU), SET_IOMMU(8), GET_DEVICE_FD", async () => {
  const libc = noiommuKernel({ mode: true, rawio: true });
  const opened = await openNoIommuDevice(system(libc), DEV, { unsafeNoIommu: true, dma: noDma });
  assert.deepEqual(libc.calls.filter((c) => c.fn === "open").map((c) => c.path), ["/dev/vfio/vfio", "/dev/vfio/noiommu-0"]);
  assert.deepEqual(libc.requests(), [ioctl.VFIO_GROUP_SET_CONTAINER, ioctl.VFIO_CHECK_EXTENSION, ioctl.VFIO_SET_IOMMU, ioctl.VFIO_GROUP_GET_DEVICE_FD]);
  assert.deepEqual(libc.calls.filter((c) => c.request === ioctl.VFIO_SET_IOMMU).map((c) => c.arg), [VFIO_NOIOMMU_IOMMU]);
  // No DMA mapping in this mode: the container passes MAP_DMA to vfio-noiommu, which has none.
  await assert.rejects(opened.container.mapDma({ flags: 3, vaddr: 0x1000n, iova: 0n, size: 4096n }), { code: "ENOTTY" });
  await opened.close();
  assert.equal(libc.openFds.size, 0);
});

test("no-IOMMU without the opt-in: EUNSAFE, and nothing is opened", async () => {
  const libc = noiommuKernel({ mode: true, rawio: true });
  await assert.rejects(openNoIommuDevice(system(libc), DEV, { dma: noDma }), { code: "EUNSAFE" });
  assert.deepEqual(libc.calls, []);
});

test("mode off: VFIO_NOIOMMU_IOMMU not offered → ENODEV naming enable_unsafe_noiommu_mode; everything closed", async () => {
  const libc = noiommuKernel({ mode: false, rawio: true });
  await assert.rejects(openNoIommuDevice(system(libc), DEV, { unsafeNoIommu: true, dma: noDma }), (e: { code: string; hint?: string }) => {
    assert.equal(e.code, "ENODEV");
    assert.match(e.hint ?? "", /enable_unsafe_noiommu_mode/);
    return true;
  });
  assert.equal(libc.openFds.size, 0);
});

test("without CAP_SYS_RAWIO the kernel answers EPERM, and it reaches the caller", async () => {
  const libc = noiommuKernel({ mode: true, rawio: false });
  await assert.rejects(openNoIommuDevice(system(libc), DEV, { unsafeNoIommu: true, dma: noDma }), { code: "EPERM" });
  assert.equal(libc.openFds.size, 0);
});

test("a device in a real IOMMU group is not opened this way (EINVAL: use openDevice)", async () => {
  const libc = noiommuKernel({ mode: true, rawio: true });
  await assert.rejects(openNoIommuDevice(system(libc), "0000:00:04.0", { unsafeNoIommu: true, dma: noDma }), { code: "EINVAL" });
  assert.deepEqual(libc.calls, []);
});

test("the emulated machine has an IOMMU: no /dev/vfio/noiommu-N, and VFIO_NOIOMMU_IOMMU is not offered (CONFIG_VFIO_NOIOMMU off, as Debian's 6.1)", async () => {
  const emulated = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  await assert.rejects(emulated.openGroup(1, { noiommu: true }), { code: "ENOENT" });
  await using container = await emulated.openContainer();
  assert.equal(await container.checkExtension(VFIO_NOIOMMU_IOMMU), 0);
  assert.equal(await container.checkExtension(VFIO_TYPE1v2_IOMMU), 1);
  await assert.rejects(openNoIommuDevice(emulated, DEV, { unsafeNoIommu: true, dma: noDma }), { code: "EINVAL" });
});
