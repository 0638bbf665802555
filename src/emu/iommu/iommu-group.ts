/**
 * An IOMMU group's kernel state (struct iommu_group in drivers/iommu/iommu.c, Linux 6.1): its
 * members, its DMA ownership, and the domain its devices' DMA is translated by.
 *
 * Ownership: every probed driver without driver_managed_dma takes the group's default domain
 * (iommu_device_use_default_domain: owner_cnt++); VFIO claims the group for userspace
 * (iommu_group_claim_dma_owner), which fails with EPERM while any such driver is bound. That
 * count is what VFIO_GROUP_GET_STATUS reports as "viable" (owner_cnt == 0).
 */
import type { PciFunction } from "../pci/function.js";
import type { IommuDomain } from "./domain.js";

export class IommuGroup {
  /** owner_cnt. */
  ownerCount = 0;
  /** The claiming owner (a VFIO group), when claimed. */
  owner: object | undefined;
  /**
   * The domain DMA goes through: "default" (the host kernel's DMA API domain: nothing a
   * userspace driver mapped), "blocking" (claimed by VFIO, no IOMMU attached yet), or a
   * type1 domain.
   */
  domain: IommuDomain | "default" | "blocking" = "default";

  constructor(readonly id: number, readonly members: readonly PciFunction[]) {}

  /** iommu_device_use_default_domain(): 0 or the errno (EBUSY when userspace owns the group). */
  useDefaultDomain(): "EBUSY" | undefined {
    if (this.ownerCount && this.owner) return "EBUSY";
    this.ownerCount++;
    return undefined;
  }

  /** iommu_device_unuse_default_domain(). */
  unuseDefaultDomain(): void {
    if (this.ownerCount > 0 && !this.owner) this.ownerCount--;
  }

  /** iommu_group_claim_dma_owner(): EPERM while any device uses the default domain (or another owner holds it). */
  claim(owner: object): "EPERM" | undefined {
    if (this.ownerCount) return "EPERM";
    this.owner = owner;
    this.ownerCount = 1;
    this.domain = "blocking";
    return undefined;
  }

  /** iommu_group_release_dma_owner(). */
  release(): void {
    this.owner = undefined;
    this.ownerCount = 0;
    this.domain = "default";
  }

  /** iommu_group_dma_owner_claimed(): what makes VFIO call a group not viable. */
  get claimed(): boolean {
    return this.ownerCount !== 0;
  }
}
