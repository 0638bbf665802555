/**
 * The whole opening sequence in one call, as Documentation/driver-api/vfio.rst's "VFIO Usage
 * Example" does it: container, group (found from the device's iommu_group link in sysfs),
 * VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU (type1v2, else type1), VFIO_GROUP_GET_DEVICE_FD.
 * Whatever fails, what was opened is closed again in reverse order before the error goes up.
 */
import type { Container, Group } from "./container.js";
import { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "./constants.js";
import { ContainerDmaSpace, type ContainerDmaSpaceOptions } from "./container-dma-space.js";
import type { VfioDevice } from "./device.js";
import { VfioSystemError, VfioUsageError, errnoValue } from "./errors.js";
import { noIommuGroupError } from "./no-iommu.js";
import type { Sysfs } from "./sysfs.js";
import type { VfioSystem } from "./vfio-system.js";

export interface OpenDeviceOptions {
  /** The IOMMU group; by default read from sysfs (bus/pci/devices/<name>/iommu_group). */
  readonly group?: number;
  /** The IOMMU model; by default type1v2 where the kernel has it, else type1. */
  readonly iommu?: number;
  /** Options of the DMA space made over the container. */
  readonly dma?: ContainerDmaSpaceOptions;
}

/** An opened device with everything it needs; `close()` releases all of it, device first. */
export interface OpenedDevice extends AsyncDisposable {
  readonly container: Container;
  readonly group: Group;
  readonly device: VfioDevice;
  /** DMA buffers mapped in this container. */
  readonly dma: ContainerDmaSpace;
  /** The IOMMU model that was set. */
  readonly iommu: number;
  /** Frees DMA buffers, closes the device, the group, the container. Idempotent. */
  close(): Promise<void>;
}

/** The IOMMU group of PCI device `name`, from its sysfs iommu_group link. */
export async function iommuGroupOf(sysfs: Sysfs, name: string): Promise<number> {
  const link = await sysfs.readlink(`bus/pci/devices/${name}/iommu_group`);
  if (link === undefined) {
    if ((await sysfs.list(`bus/pci/devices/${name}`)) !== undefined) throw await noIommuGroupError(sysfs, name);
    throw new VfioUsageError(`no PCI device ${name} in ${sysfs.description} (addresses look like 0000:00:03.0)`, "ENOENT");
  }
  const id = Number(link.split("/").pop());
  if (!Number.isSafeInteger(id)) throw new VfioUsageError(`${name}: iommu_group link "${link}" names no group number`, "EINVAL");
  return id;
}

/** Sets type1v2 where the container offers it, else type1; resolves with the model set. */
export async function setPreferredIommu(container: Container): Promise<number> {
  for (const type of [VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU]) {
    if ((await container.checkExtension(type)) > 0) {
      await container.setIommu(type);
      return type;
    }
  }
  throw new VfioSystemError("VFIO_SET_IOMMU", errnoValue("ENODEV"), "ioctl", "container", "neither type1v2 nor type1 is offered (is vfio_iommu_type1 loaded?)");
}

/**
 * Opens device `name` on `system`.
 * @example
 * await using opened = await openDevice(system, "0000:00:03.0");
 * const bar0 = await opened.device.mapRegion(0);
 */
export async function openDevice(system: VfioSystem, name: string, options: OpenDeviceOptions = {}): Promise<OpenedDevice> {
  const groupId = options.group ?? (await iommuGroupOf(system.sysfs, name));
  const opened: { container?: Container; group?: Group; device?: VfioDevice } = {};
  try {
    opened.container = await system.openContainer();
    opened.group = await system.openGroup(groupId);
    await opened.group.setContainer(opened.container);
    let iommu: number;
    if (options.iommu !== undefined) {
      await opened.container.setIommu(options.iommu);
      iommu = options.iommu;
    } else {
      iommu = await setPreferredIommu(opened.container);
    }
    opened.device = await opened.group.openDevice(name);
    const { container, group, device } = opened as Required<typeof opened>;
    const dma = new ContainerDmaSpace(system, container, options.dma);
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => (closing ??= closeAll([() => dma.close(), () => device.close(), () => group.close(), () => container.close()]));
    return { container, group, device, dma, iommu, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await closeAll([() => opened.device?.close(), () => opened.group?.close(), () => opened.container?.close()]).catch(() => undefined);
    throw error;
  }
}

async function closeAll(steps: readonly (() => Promise<void> | undefined)[]): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}
