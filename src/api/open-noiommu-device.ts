/**
 * Opening a device through VFIO's no-IOMMU mode (CONFIG_VFIO_NOIOMMU with the vfio module's
 * enable_unsafe_noiommu_mode set): vfio-pci then takes a device that has no IOMMU group by
 * giving it a fake one (iommu_group name "vfio-noiommu", node /dev/vfio/noiommu-N), and the
 * container's only IOMMU driver is vfio-noiommu (drivers/vfio/container.c, Linux 6.1):
 *
 * - VFIO_CHECK_EXTENSION(VFIO_NOIOMMU_IOMMU) is 1 only with the mode on, and a container holding
 *   a no-IOMMU group offers nothing else (vfio_iommu_driver_allowed); real and fake groups
 *   cannot share a container (EPERM);
 * - VFIO_SET_IOMMU takes VFIO_NOIOMMU_IOMMU only, and needs CAP_SYS_RAWIO (vfio_noiommu_open:
 *   EPERM), as do opening the group, attaching it and getting the device fd;
 * - there are no DMA ioctls (vfio_noiommu_ioctl: ENOTTY): the device reaches memory by
 *   physical address, so DMA memory comes from elsewhere (uio/'s UioDmaSpace: pinned pages and
 *   their pagemap addresses).
 *
 * Behind the same opt-in as UIO.
 */
import type { Container, Group } from "./container.js";
import { VFIO_NOIOMMU_IOMMU } from "./constants.js";
import type { VfioDevice } from "./device.js";
import type { DmaSpace } from "./dma-space.js";
import { VfioSystemError, VfioUsageError, errnoValue } from "./errors.js";
import { iommuGroupOf } from "./open-device.js";
import { requireUnsafeOptIn, type UnsafeOptIn } from "./unsafe-opt-in.js";
import type { VfioSystem } from "./vfio-system.js";

/** The iommu_group name vfio_noiommu_group_alloc gives a fake group. */
export const NOIOMMU_GROUP_NAME = "vfio-noiommu";

export interface OpenNoIommuOptions extends UnsafeOptIn {
  /** Where DMA memory comes from (physical addresses: no IOMMU translates). */
  readonly dma: DmaSpace;
}

export interface OpenedNoIommuDevice extends AsyncDisposable {
  readonly container: Container;
  readonly group: Group;
  readonly device: VfioDevice;
  readonly dma: DmaSpace;
  /** Closes the device, the group, the container. Idempotent. */
  close(): Promise<void>;
}

/** True when `name`'s IOMMU group is one of VFIO's fake no-IOMMU groups. */
export async function isNoIommuGroup(system: VfioSystem, group: number): Promise<boolean> {
  return (await system.sysfs.read(`kernel/iommu_groups/${group}/name`))?.trim() === NOIOMMU_GROUP_NAME;
}

/**
 * Opens `name` through /dev/vfio/noiommu-N. Demands `{ unsafeNoIommu: true }`.
 * @example
 * await using opened = await openNoIommuDevice(system, "0000:00:03.0", { unsafeNoIommu: true, dma: new UioDmaSpace(new LinuxUioSystem()) });
 */
export async function openNoIommuDevice(system: VfioSystem, name: string, options: OpenNoIommuOptions): Promise<OpenedNoIommuDevice> {
  requireUnsafeOptIn(options, "VFIO's no-IOMMU mode");
  const groupId = await iommuGroupOf(system.sysfs, name);
  if (!(await isNoIommuGroup(system, groupId))) {
    throw new VfioUsageError(`${name} is in IOMMU group ${groupId}, a real one: open it with openDevice(), which the IOMMU protects`, "EINVAL");
  }
  const opened: { container?: Container; group?: Group; device?: VfioDevice } = {};
  try {
    opened.container = await system.openContainer();
    opened.group = await system.openGroup(groupId, { noiommu: true });
    await opened.group.setContainer(opened.container);
    if ((await opened.container.checkExtension(VFIO_NOIOMMU_IOMMU)) <= 0) {
      throw new VfioSystemError("VFIO_SET_IOMMU", errnoValue("ENODEV"), "ioctl", "container", "the kernel offers no VFIO_NOIOMMU_IOMMU: enable_unsafe_noiommu_mode is off (echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode)");
    }
    await opened.container.setIommu(VFIO_NOIOMMU_IOMMU);
    opened.device = await opened.group.openDevice(name);
    const { container, group, device } = opened as Required<typeof opened>;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => (closing ??= (async () => {
      await device.close();
      await group.close();
      await container.close();
    })());
    return { container, group, device, dma: options.dma, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    for (const step of [() => opened.device?.close(), () => opened.group?.close(), () => opened.container?.close()]) {
      try {
        await step();
      } catch {
        // The first error says why the open failed.
      }
    }
    throw error;
  }
}
