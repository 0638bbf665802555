/**
 * Explanations for failures whose cause is known: what happened and what to do next. The
 * facts come from sysfs (group members and their drivers, IOMMU presence) through the api
 * Sysfs interface, read by the same code host/ uses (iommu-groups.ts), so every backend can
 * give them and none keeps its own copy. The errno itself is never changed: callers match on it.
 */
import { DRIVER_MANAGED_DMA_LINUX_6_1 } from "./driver-managed-dma.js";
import { NOIOMMU_GROUP_NAME, listIommuGroups, readIommuGroup } from "./iommu-groups.js";
import type { Sysfs } from "./sysfs.js";
import { noIommuText } from "./no-iommu.js";

/**
 * Runs an explanation; an explanation that itself fails (sysfs unreadable for this user, say)
 * yields none, so it can never hide the error it was meant to explain.
 */
export async function safeHint(explain: () => Promise<string | undefined> | string | undefined): Promise<string | undefined> {
  try {
    return await explain();
  } catch {
    return undefined;
  }
}

/** One device of an IOMMU group and the driver it is bound to (undefined: none). */
export interface GroupMember {
  readonly address: string;
  readonly driver: string | undefined;
}

/** The devices of IOMMU group `group` and their drivers (api/iommu-groups.ts readIommuGroup). */
export async function groupMembers(sysfs: Sysfs, group: number): Promise<GroupMember[] | undefined> {
  const read = await readIommuGroup(sysfs, group);
  return read?.members.map((m) => ({ address: m.name, driver: m.driver }));
}


/** Why group `group` is not viable: the members bound to other drivers, and the way out. */
export async function explainNotViable(sysfs: Sysfs, group: number): Promise<string> {
  const members = await groupMembers(sysfs, group);
  if (members === undefined) return `group ${group} is not viable (its members could not be read from sysfs)`;
  const blocking = members.filter((m) => m.driver !== undefined && !DRIVER_MANAGED_DMA_LINUX_6_1.has(m.driver));
  const list = (blocking.length > 0 ? blocking : members)
    .map((m) => `${m.address} (${m.driver ?? "no driver"})`)
    .join(", ");
  return (
    `group ${group} is not viable: every device in it must be bound to vfio-pci or to no driver, ` +
    `but ${list} ${blocking.length === 1 ? "is" : "are"} bound to a host driver; ` +
    `bind ${blocking.length === 1 ? "it" : "them"} to vfio-pci (vfio bind) or unbind ${blocking.length === 1 ? "it" : "them"}`
  );
}

/**
 * Whether the host has an IOMMU at all: /sys/class/iommu lists one entry per IOMMU unit, and
 * groups exist where one made them — but not VFIO's no-IOMMU groups, which isolate nothing
 * (as host/iommu-status.ts decides).
 */
export async function iommuPresent(sysfs: Sysfs): Promise<boolean> {
  const units = await sysfs.list("class/iommu");
  if (units !== undefined && units.length > 0) return true;
  return (await listIommuGroups(sysfs)).some((g) => g.name !== NOIOMMU_GROUP_NAME);
}

export const NO_IOMMU_HINT = noIommuText();

/** Explains ENOENT on /dev/vfio/vfio. */
export async function explainNoContainer(sysfs: Sysfs): Promise<string> {
  if (!(await iommuPresent(sysfs))) return NO_IOMMU_HINT;
  return "the vfio modules are not loaded: modprobe vfio-pci (it loads vfio and vfio_iommu_type1)";
}

/** Explains ENOENT on /dev/vfio/N. */
export async function explainNoGroup(sysfs: Sysfs, group: number): Promise<string> {
  if (!(await iommuPresent(sysfs))) return NO_IOMMU_HINT;
  const members = await groupMembers(sysfs, group);
  if (members === undefined) return `there is no IOMMU group ${group} (see /sys/kernel/iommu_groups)`;
  const list = members.map((m) => `${m.address} (${m.driver ?? "no driver"})`).join(", ");
  return `no device of group ${group} is bound to vfio-pci, so VFIO has not created /dev/vfio/${group}; its devices: ${list}; bind one with vfio bind`;
}

/** Explains EACCES/EPERM on /dev/vfio/N or /dev/vfio/vfio. */
export function explainNotPermitted(devicePath: string): string {
  return (
    `this user may not open ${devicePath}: run as root, or give the user access to it ` +
    `(a udev rule or chown; the group's device node is created root-only), and raise RLIMIT_MEMLOCK for DMA`
  );
}

/** Explains EBUSY on opening /dev/vfio/N. */
export function explainGroupBusy(group: number): string {
  return `group ${group} is already open (Linux allows one open file per group): close the other user, in this process or another`;
}

/** Explains EINVAL from VFIO_GROUP_GET_DEVICE_FD given the group's state. */
export function explainDeviceFdRefused(group: number, containerSet: boolean, iommuSet: boolean, device: string): string | undefined {
  if (!containerSet) return `group ${group} is not in a container: call VFIO_GROUP_SET_CONTAINER, then VFIO_SET_IOMMU, before asking for ${device}`;
  if (!iommuSet) return `the container has no IOMMU model yet: call VFIO_SET_IOMMU (type1v2) before asking for ${device}`;
  return undefined;
}
