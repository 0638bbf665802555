/**
 * EmulatedSystem: what a process sees of VFIO on the emulated machine — /dev/vfio (containers
 * and groups), its own memory to map for DMA, in-process eventfds, and the machine's sysfs.
 * It implements api VfioSystem, so host tooling, drivers and the conformance suite run on it
 * unchanged.
 */
import type { Container, Group } from "../api/container.js";
import type { EventNotifier } from "../api/event-notifier.js";
import type { Sysfs } from "../api/sysfs.js";
import type { ProcessMemory, VfioSystem } from "../api/vfio-system.js";
import { Machine, type MachineSpec } from "./machine.js";
import { InProcessNotifier } from "./notifier.js";
import { ProcessAddressSpace } from "./process/address-space.js";
import { EmulatedContainer } from "./vfio/container.js";
import { fail } from "./vfio/errno.js";
import { EmulatedGroup } from "./vfio/group.js";
import { renderSysfs } from "./sysfs/emulated-sysfs.js";

export class EmulatedSystem implements VfioSystem {
  readonly machine: Machine;
  readonly memory: ProcessAddressSpace;
  readonly pageSize = 4096;
  private readonly containers = new Set<EmulatedContainer>();
  private readonly groups = new Set<EmulatedGroup>();

  /** A process on `machine` (a fresh default machine when none is given). */
  constructor(machine: Machine | MachineSpec) {
    this.machine = machine instanceof Machine ? machine : new Machine(machine);
    this.memory = new ProcessAddressSpace(this.pageSize);
  }

  get description(): string {
    return `emulated machine: ${this.machine.description} (answers as Linux ${this.machine.kernelRelease})`;
  }

  get sysfs(): Sysfs {
    return renderSysfs(this.machine);
  }

  async openContainer(): Promise<Container> {
    const container = new EmulatedContainer(this.machine, this.memory);
    this.containers.add(container);
    return container;
  }

  /**
   * open("/dev/vfio/<id>"): ENOENT when no device of that group is bound to vfio-pci (the
   * node does not exist), EBUSY when the group is already open (vfio_group_fops_open).
   */
  async openGroup(id: number, options: { readonly noiommu?: boolean } = {}): Promise<Group> {
    // The emulated machine has an IOMMU: vfio-pci gives no device a fake no-IOMMU group.
    if (options.noiommu) fail("open", "ENOENT", `/dev/vfio/noiommu-${id}`, "no device is in a no-IOMMU group: this machine has an IOMMU");
    const core = this.machine.vfioGroups.get(id);
    if (!core) fail("open", "ENOENT", `/dev/vfio/${id}`, "no device of that IOMMU group is bound to vfio-pci");
    if (core.openedFile) fail("open", "EBUSY", `/dev/vfio/${id}`, "the group is already open");
    const group = new EmulatedGroup(core, this.machine);
    core.openedFile = group;
    this.groups.add(group);
    return group;
  }

  allocateMemory(size: number): ProcessMemory {
    return this.memory.allocate(size);
  }

  createNotifier(): EventNotifier {
    return new InProcessNotifier();
  }

  /** Closes every container (with its groups and devices) and every group this process opened, as process exit does. Idempotent. */
  async close(): Promise<void> {
    for (const container of this.containers) await container.close();
    for (const group of this.groups) await group.closeAll();
    this.containers.clear();
    this.groups.clear();
  }
}
