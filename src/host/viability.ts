/**
 * Whether an IOMMU group is viable for VFIO, decided as Linux 6.1 decides it.
 *
 * Since Linux 5.19 ("iommu: Add DMA ownership management interfaces", and "vfio: Set DMA
 * ownership for VFIO devices") VFIO_GROUP_GET_STATUS sets VFIO_GROUP_FLAGS_VIABLE when
 * `!iommu_group_dma_owner_claimed(group)` (drivers/vfio/vfio_main.c, 6.1), and a group's DMA
 * owner count is raised by every driver bound to a member unless that driver sets
 * `driver_managed_dma` (drivers/pci/pci-driver.c pci_dma_configure():
 * `if (!ret && !driver->driver_managed_dma) ret = iommu_device_use_default_domain(dev);`).
 * So: a group is viable when no member is bound to a driver that claims kernel DMA.
 * A group already attached to a container reads viable as well (CONTAINER_SET implies it).
 */
import { DRIVER_MANAGED_DMA_LINUX_6_1, driverClaimsKernelDma } from "../api/driver-managed-dma.js";
import type { IommuGroup, IommuGroupMember } from "./iommu-groups.js";

/** The list and the test live in api/ (one list for host/ and emu/); re-exported for host/ callers. */
export { DRIVER_MANAGED_DMA_LINUX_6_1, driverClaimsKernelDma };

/** A group's verdict and the members that block it. */
export interface Viability {
  readonly viable: boolean;
  /** Members bound to a driver that claims kernel DMA, in group order. */
  readonly blockers: readonly IommuGroupMember[];
}

/**
 * The Linux 6.1 verdict for `group`.
 *
 * @example
 * groupViability({ members: [{ name: "0000:01:02.0", driver: "e1000" }] });
 * // { viable: false, blockers: [{ name: "0000:01:02.0", driver: "e1000" }] }
 */
export function groupViability(group: Pick<IommuGroup, "members">, managed: ReadonlySet<string> = DRIVER_MANAGED_DMA_LINUX_6_1): Viability {
  const blockers = group.members.filter((m) => driverClaimsKernelDma(m.driver, managed));
  return { viable: blockers.length === 0, blockers };
}
