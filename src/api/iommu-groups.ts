/**
 * IOMMU groups as sysfs shows them under kernel/iommu_groups
 * (Documentation/ABI/testing/sysfs-kernel-iommu_groups).
 */
import { VfioProtocolError } from "./errors.js";
import type { Sysfs } from "./sysfs.js";
import { comparePciAddress } from "./pci-address.js";
import { readLinkName, readText } from "./sysfs-attribute.js";

/** A device of a group. Usually a PCI function ("0000:01:02.0"); groups may hold others. */
export interface IommuGroupMember {
  /** The device's name in sysfs: a PCI address for PCI devices. */
  readonly name: string;
  /** The bound driver, or undefined when unbound. */
  readonly driver: string | undefined;
}

/** An IOMMU group: the unit the kernel isolates, and so the unit VFIO hands out. */
export interface IommuGroup {
  readonly id: number;
  /**
   * The default domain type (`type`, Linux 5.11+): "DMA", "DMA-FQ", "identity" (iommu=pt),
   * "blocked", "unmanaged" or undefined when the kernel does not say.
   */
  readonly type: string | undefined;
  /**
   * The group's `name`, set only by iommu_group_set_name(): "vfio-noiommu" marks a group VFIO
   * made in no-IOMMU mode (drivers/vfio/group.c, vfio_noiommu_group_alloc()), which isolates
   * nothing.
   */
  readonly name: string | undefined;
  readonly members: readonly IommuGroupMember[];
}

const GROUPS = "kernel/iommu_groups";

/**
 * Reads group `id`, or resolves undefined when there is no such group.
 *
 * @example
 * const group = await readIommuGroup(sysfs, 5);
 */
export async function readIommuGroup(sysfs: Sysfs, id: number): Promise<IommuGroup | undefined> {
  const dir = `${GROUPS}/${id}`;
  const names = await sysfs.list(`${dir}/devices`);
  if (names === undefined) return undefined;
  const members: IommuGroupMember[] = [];
  for (const name of [...names].sort(comparePciAddress)) {
    members.push({ name, driver: await readLinkName(sysfs, `${dir}/devices/${name}/driver`) });
  }
  return { id, type: await readText(sysfs, `${dir}/type`), name: await readText(sysfs, `${dir}/name`), members };
}

/** The name VFIO gives the groups it makes in no-IOMMU mode. */
export const NOIOMMU_GROUP_NAME = "vfio-noiommu";

/**
 * Every IOMMU group, by number. An empty list means the kernel has no IOMMU driver active
 * (groups exist only where an IOMMU, or VFIO's no-IOMMU mode, made them).
 *
 * @example
 * for (const g of await listIommuGroups(sysfs)) console.log(g.id, g.members.map((m) => m.name));
 */
export async function listIommuGroups(sysfs: Sysfs): Promise<readonly IommuGroup[]> {
  const entries = (await sysfs.list(GROUPS)) ?? [];
  const groups: IommuGroup[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) throw new VfioProtocolError(`${sysfs.description}/${GROUPS}/${entry}: not a group number`, GROUPS);
    const group = await readIommuGroup(sysfs, Number(entry));
    if (group !== undefined) groups.push(group);
  }
  return groups.sort((a, b) => a.id - b.id);
}
