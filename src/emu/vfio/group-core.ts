/**
 * The VFIO core's state for one IOMMU group (struct vfio_group, Linux 6.1 vfio_main.c): it
 * exists while at least one of the group's devices is bound to a VFIO driver, which is when
 * /dev/vfio/<id> exists. At most one open file; at most one container; container_users counts
 * the group file's attachment plus every open device.
 */
import type { IommuGroup } from "../iommu/iommu-group.js";
import type { VfioPciDevice } from "./pci-device.js";

/** What a container must offer the groups attached to it. */
export interface ContainerCore {
  /** Detaches a group (vfio_group_detach_container): drops the IOMMU when it was the last. */
  detach(group: VfioGroupCore): void;
  /** true once VFIO_SET_IOMMU succeeded. */
  readonly hasIommu: boolean;
}

export class VfioGroupCore {
  readonly devices = new Set<VfioPciDevice>();
  /** The open /dev/vfio/N file, if any (group->opened_file). */
  openedFile: object | undefined;
  container: ContainerCore | undefined;
  containerUsers = 0;

  constructor(readonly iommuGroup: IommuGroup) {}

  get id(): number {
    return this.iommuGroup.id;
  }

  /** vfio_device_get_from_name(): a device of this group bound to VFIO, by name. */
  device(name: string): VfioPciDevice | undefined {
    for (const d of this.devices) if (d.name === name) return d;
    return undefined;
  }
}
