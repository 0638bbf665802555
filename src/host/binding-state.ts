/**
 * What binding needs to know about one PCI device, read through the Sysfs interface:
 * its driver, its driver_override, its IOMMU group and its class. The paths are the kernel's
 * (Documentation/ABI/testing/sysfs-bus-pci), relative to the sysfs root.
 */
import { VfioProtocolError, VfioUsageError } from "../api/errors.js";
import { noIommuGroupError } from "../api/no-iommu.js";
import type { Sysfs } from "../api/sysfs.js";
import { DRIVER_MANAGED_DMA_LINUX_6_1 } from "./viability.js";

/** sysfs paths of a device and of the PCI bus. */
export const pciPaths = {
  device: (address: string): string => `bus/pci/devices/${address}`,
  driverLink: (address: string): string => `bus/pci/devices/${address}/driver`,
  driverOverride: (address: string): string => `bus/pci/devices/${address}/driver_override`,
  iommuGroupLink: (address: string): string => `bus/pci/devices/${address}/iommu_group`,
  deviceClass: (address: string): string => `bus/pci/devices/${address}/class`,
  bootVga: (address: string): string => `bus/pci/devices/${address}/boot_vga`,
  driverDir: (driver: string): string => `bus/pci/drivers/${driver}`,
  unbind: (driver: string): string => `bus/pci/drivers/${driver}/unbind`,
  driversProbe: "bus/pci/drivers_probe",
  groupDevices: (group: number): string => `kernel/iommu_groups/${group}/devices`,
} as const;

/** The binding-relevant state of one device. */
export interface BindingState {
  readonly address: string;
  /** The bound driver's name, or null. */
  readonly driver: string | null;
  /** driver_override, or null when unset (sysfs shows "(null)"). */
  readonly override: string | null;
  readonly group: number;
  /** The 24-bit class code (class, subclass, prog-if). */
  readonly classCode: number;
}

function basename(link: string): string {
  return link.replace(/\/+$/, "").split("/").pop() ?? "";
}

/** The bound driver's name, or null. */
export async function readDriver(sysfs: Sysfs, address: string): Promise<string | null> {
  const link = await sysfs.readlink(pciPaths.driverLink(address));
  return link === undefined ? null : basename(link);
}

/** driver_override, or null when unset. */
export async function readOverride(sysfs: Sysfs, address: string): Promise<string | null> {
  const text = (await sysfs.read(pciPaths.driverOverride(address)))?.trim();
  // drivers/pci/pci-sysfs.c driver_override_show prints "%s\n" of a NULL pointer: "(null)".
  return text === undefined || text === "" || text === "(null)" ? null : text;
}

/**
 * Reads a device's state.
 * @throws VfioUsageError when the device does not exist; VfioProtocolError when sysfs is malformed;
 *   a VfioError ENODEV when the device has no IOMMU group (api/no-iommu.ts).
 */
export async function readBindingState(sysfs: Sysfs, address: string, options: { readonly allowNoGroup?: boolean } = {}): Promise<BindingState> {
  const classText = await sysfs.read(pciPaths.deviceClass(address));
  if (classText === undefined) throw new VfioUsageError(`no PCI device ${address} in ${sysfs.description}`, "ENODEV");
  const classCode = Number.parseInt(classText.trim(), 16);
  if (!/^0x[0-9a-f]{6}$/i.test(classText.trim())) {
    throw new VfioProtocolError(`${pciPaths.deviceClass(address)}: '${classText.trim()}' is not a class code`, "class");
  }
  const groupLink = await sysfs.readlink(pciPaths.iommuGroupLink(address));
  // UIO needs no IOMMU: a device without a group is group -1 there.
  if (groupLink === undefined && options.allowNoGroup) {
    return { address, driver: await readDriver(sysfs, address), override: await readOverride(sysfs, address), group: -1, classCode };
  }
  if (groupLink === undefined) {
    throw await noIommuGroupError(sysfs, address);
  }
  const group = Number(basename(groupLink));
  if (!Number.isInteger(group) || group < 0) {
    throw new VfioProtocolError(`${pciPaths.iommuGroupLink(address)} -> '${groupLink}' names no group`, "iommu_group");
  }
  return { address, driver: await readDriver(sysfs, address), override: await readOverride(sysfs, address), group, classCode };
}

/** The members of an IOMMU group, sorted. */
export async function groupMembers(sysfs: Sysfs, group: number): Promise<string[]> {
  const entries = await sysfs.list(pciPaths.groupDevices(group));
  if (entries === undefined) throw new VfioProtocolError(`${pciPaths.groupDevices(group)} does not exist`, "iommu_group");
  return [...entries].sort();
}

/**
 * PCI-to-PCI and CardBus bridges (class 06 04 / 06 07, PCI Code and ID Assignment spec):
 * vfio-pci refuses them (vfio_pci_probe: header type must be normal), and they do not stop a
 * group from being viable unbound or on pcieport.
 */
export function isBridge(classCode: number): boolean {
  const base = classCode >> 8;
  return base === 0x0604 || base === 0x0607;
}

/**
 * Drivers that leave a group viable (driver_managed_dma in Linux 6.1; see viability.ts).
 */
export const VIABLE_DRIVERS: ReadonlySet<string> = DRIVER_MANAGED_DMA_LINUX_6_1;
