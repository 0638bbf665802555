/**
 * An open /dev/vfio/vfio of the emulated machine (container.c in Linux 6.1): groups attach to
 * it, VFIO_SET_IOMMU picks type1 once there is a group, and the IOMMU ioctls pass through to
 * type1 only once it is set (EINVAL before). When its last group leaves, type1 is released
 * and the container returns to the unset state with every mapping gone.
 */
import type { Container, DmaMapRequest, DmaUnmapRequest, IommuInfo } from "../../api/container.js";
import { VFIO_API_VERSION, VFIO_TYPE1_IOMMU, VFIO_TYPE1_NESTING_IOMMU, VFIO_TYPE1v2_IOMMU } from "../../api/constants.js";
import { driverClaimsKernelDma } from "../../api/driver-managed-dma.js";
import type { VfioOp } from "../../api/op.js";
import type { Machine } from "../machine.js";
import { knownHostDrivers } from "../pci/host-drivers.js";
import type { ProcessAddressSpace } from "../process/address-space.js";
import { fail } from "./errno.js";
import type { ContainerCore, VfioGroupCore } from "./group-core.js";
import { Type1Iommu, type1CheckExtension } from "./type1.js";

/** What a container needs to close the group files attached to it. */
export interface AttachedGroupFile {
  readonly core: VfioGroupCore;
  /** Closes its devices, then itself. */
  closeAll(): Promise<void>;
}

export class EmulatedContainer implements Container, ContainerCore {
  private readonly groups: VfioGroupCore[] = [];
  /** Group files attached through this container, for close(). */
  readonly groupFiles = new Set<AttachedGroupFile>();
  iommu: Type1Iommu | undefined;
  private closed = false;

  constructor(readonly machine: Machine, private readonly memory: ProcessAddressSpace) {}

  get hasIommu(): boolean {
    return this.iommu !== undefined;
  }

  async apiVersion(): Promise<number> {
    this.check("VFIO_GET_API_VERSION");
    return VFIO_API_VERSION;
  }

  async checkExtension(extension: number): Promise<number> {
    this.check("VFIO_CHECK_EXTENSION");
    // Without an IOMMU driver set, every registered driver is polled (only type1 here).
    return type1CheckExtension(extension, this.iommu);
  }

  async setIommu(type: number): Promise<void> {
    const op = "VFIO_SET_IOMMU";
    this.check(op);
    // Only a container holding a group may pick an IOMMU, and only once.
    if (this.groups.length === 0) fail(op, "EINVAL", "container", "attach a group (VFIO_GROUP_SET_CONTAINER) first");
    if (this.iommu) fail(op, "EINVAL", "container", "an IOMMU is already set");
    if (type1CheckExtension(type, undefined) <= 0) fail(op, "ENODEV", "container", `no IOMMU driver supports type ${type}`);
    // vfio_iommu_type1_open() takes only the three IOMMU types; nesting then fails to attach:
    // the VT-d driver has no enable_nesting (iommu_enable_nesting → EINVAL).
    if (type !== VFIO_TYPE1_IOMMU && type !== VFIO_TYPE1v2_IOMMU) {
      fail(op, "EINVAL", "container", type === VFIO_TYPE1_NESTING_IOMMU ? "the IOMMU does not support nesting" : `type ${type} is an extension, not an IOMMU type`);
    }
    const iommu = this.machine.iommu;
    this.iommu = new Type1Iommu(type, {
      pgsizeBitmap: iommu.pgsizeBitmap,
      apertureEnd: (1n << BigInt(iommu.addressWidth)) - 1n,
      reserved: iommu.reserved,
      enforceCacheCoherency: false,
      pageSize: 4096,
    }, this.memory, iommu.dmaEntryLimit);
    for (const group of this.groups) group.iommuGroup.domain = this.iommu.domain;
  }

  async iommuInfo(): Promise<IommuInfo> {
    return this.type1("VFIO_IOMMU_GET_INFO").info();
  }

  async mapDma(request: DmaMapRequest): Promise<void> {
    this.type1("VFIO_IOMMU_MAP_DMA").map(request);
  }

  async unmapDma(request: DmaUnmapRequest): Promise<bigint> {
    return this.type1("VFIO_IOMMU_UNMAP_DMA").unmap(request);
  }

  /** vfio_container_attach_group(): claims the group's DMA ownership (EPERM while not viable). */
  attach(group: VfioGroupCore): void {
    const op = "VFIO_GROUP_SET_CONTAINER";
    this.check(op);
    const claim = group.iommuGroup.claim(group);
    if (claim) {
      // The members whose driver claimed kernel DMA (no driver_managed_dma): the emulated
      // driver's own flag where the emulator knows the driver, else the 6.1 list.
      const blockers = group.iommuGroup.members.filter((f) => {
        if (f.driver === undefined) return false;
        const known = knownHostDrivers[f.driver];
        return known ? !known.driverManagedDma : driverClaimsKernelDma(f.driver);
      });
      fail(op, claim, `group ${group.id}`, `the group is not viable: ${blockers.map((f) => `${f.address} is bound to ${f.driver}`).join(", ") || "a device uses a host driver"}`);
    }
    if (this.iommu) group.iommuGroup.domain = this.iommu.domain;
    group.container = this;
    group.containerUsers = 1;
    this.groups.push(group);
  }

  /** vfio_group_detach_container(). */
  detach(group: VfioGroupCore): void {
    const i = this.groups.indexOf(group);
    if (i < 0) return;
    this.groups.splice(i, 1);
    group.iommuGroup.release();
    group.container = undefined;
    group.containerUsers = 0;
    if (this.groups.length === 0 && this.iommu) {
      this.iommu.release();
      this.iommu = undefined;
    }
  }

  /** Closes the group files attached through it (their devices first), then itself. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const file of [...this.groupFiles]) await file.closeAll();
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private type1(op: VfioOp): Type1Iommu {
    this.check(op);
    if (!this.iommu) fail(op, "EINVAL", "container", "no IOMMU set (VFIO_SET_IOMMU)");
    return this.iommu;
  }

  private check(op: VfioOp): void {
    if (this.closed) fail(op, "EBADF", "container", "the container is closed");
  }
}
