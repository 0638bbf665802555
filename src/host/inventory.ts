/**
 * `readInventory()`: the machine's PCI devices grouped by IOMMU group with each group's
 * verdict, the data behind `vfio ls`.
 */
import type { HostEnvironment } from "../api/host-environment.js";
import { listIommuGroups, type IommuGroup } from "./iommu-groups.js";
import { readIommuStatus, type IommuStatus } from "./iommu-status.js";
import { listPciDevices, type PciDevice } from "./pci-devices.js";
import { groupViability, type Viability } from "./viability.js";

/** A group with its verdict and its PCI members' details. */
export interface InventoryGroup {
  readonly group: IommuGroup;
  readonly viability: Viability;
  /** The PCI members, in group order (non-PCI members are in `group.members` only). */
  readonly devices: readonly PciDevice[];
}

/** What `vfio ls` shows. */
export interface Inventory {
  readonly iommu: IommuStatus;
  readonly groups: readonly InventoryGroup[];
  /** Every PCI device, grouped or not, in address order. */
  readonly devices: readonly PciDevice[];
  /** PCI devices in no group (all of them when no IOMMU is active). */
  readonly ungrouped: readonly PciDevice[];
}

/**
 * Reads the inventory of `env`.
 *
 * @example
 * const { iommu, groups } = await readInventory(nodeHostEnvironment());
 */
export async function readInventory(env: HostEnvironment): Promise<Inventory> {
  const iommu = await readIommuStatus(env);
  const devices = await listPciDevices(env.sysfs);
  const byAddress = new Map(devices.map((d) => [d.address as string, d]));
  const groups = (await listIommuGroups(env.sysfs)).map((group) => ({
    group,
    viability: groupViability(group),
    devices: group.members.map((m) => byAddress.get(m.name)).filter((d): d is PciDevice => d !== undefined),
  }));
  const grouped = new Set(groups.flatMap((g) => g.group.members.map((m) => m.name)));
  return { iommu, groups, devices, ungrouped: devices.filter((d) => !grouped.has(d.address)) };
}
