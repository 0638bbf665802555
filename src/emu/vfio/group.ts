/**
 * An open /dev/vfio/<n> of the emulated machine (the group half of vfio_main.c in Linux 6.1).
 *
 *  - GET_STATUS: VIABLE when no device of the IOMMU group uses a host driver's DMA domain;
 *    CONTAINER_SET (with VIABLE) once attached.
 *  - SET_CONTAINER: EINVAL when already attached; EPERM when not viable.
 *  - UNSET_CONTAINER: EINVAL when not attached; EBUSY while a device is open.
 *  - GET_DEVICE_FD: ENODEV for a name that is not a VFIO device of the group; EINVAL before
 *    the group is in a container that has an IOMMU set.
 * Device files hold a reference to the group file: closing the group while devices are open
 * only releases it (and detaches the container) when the last device closes.
 */
import type { Container, Group } from "../../api/container.js";
import type { VfioDevice } from "../../api/device.js";
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE } from "../../api/constants.js";
import type { VfioOp } from "../../api/op.js";
import type { Machine } from "../machine.js";
import { EmulatedContainer } from "./container.js";
import { EmulatedDevice } from "./device.js";
import { fail } from "./errno.js";
import type { VfioGroupCore } from "./group-core.js";

export class EmulatedGroup implements Group {
  readonly id: number;
  private closed = false;
  private released = false;
  private container: EmulatedContainer | undefined;
  /** Open device files taken from this group file (each holds a reference to it). */
  readonly devices = new Set<EmulatedDevice>();

  constructor(readonly core: VfioGroupCore, private readonly machine: Machine) {
    this.id = core.id;
  }

  async status(): Promise<number> {
    this.check("VFIO_GROUP_GET_STATUS");
    if (this.core.container) return VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
    return this.core.iommuGroup.claimed ? 0 : VFIO_GROUP_FLAGS_VIABLE;
  }

  async setContainer(container: Container): Promise<void> {
    const op = "VFIO_GROUP_SET_CONTAINER";
    this.check(op);
    if (this.core.container) fail(op, "EINVAL", this.target, "the group is already in a container");
    // An fd that is not a container: vfio_container_from_file() returns NULL → EINVAL.
    if (!(container instanceof EmulatedContainer) || container.machine !== this.machine) fail(op, "EINVAL", this.target, "not a container of this machine");
    container.attach(this.core);
    this.container = container;
    container.groupFiles.add(this);
  }

  async unsetContainer(): Promise<void> {
    const op = "VFIO_GROUP_UNSET_CONTAINER";
    this.check(op);
    if (!this.core.container) fail(op, "EINVAL", this.target, "the group is not in a container");
    if (this.core.containerUsers !== 1) fail(op, "EBUSY", this.target, "a device of the group is open");
    this.detach();
  }

  async openDevice(name: string): Promise<VfioDevice> {
    const op = "VFIO_GROUP_GET_DEVICE_FD";
    this.check(op);
    const vdev = this.core.device(name);
    if (!vdev) fail(op, "ENODEV", this.target, `${name} is not a VFIO device of group ${this.id}`);
    // vfio_device_assign_container().
    if (!this.core.container || !this.core.container.hasIommu) {
      fail(op, "EINVAL", this.target, this.core.container ? "set an IOMMU on the container first (VFIO_SET_IOMMU)" : "attach the group to a container first");
    }
    this.core.containerUsers++;
    vdev.open();
    const device = new EmulatedDevice(vdev, () => this.deviceClosed(device));
    this.devices.add(device);
    return device;
  }

  /** Closes the file; the group is released once its devices are closed too. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.container?.groupFiles.delete(this);
    if (this.devices.size === 0) this.release();
  }

  /** Closes the devices taken from this file, then the file (what a container's close does). */
  async closeAll(): Promise<void> {
    for (const d of [...this.devices]) await d.close();
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  get target(): string {
    return `group ${this.id}`;
  }

  private deviceClosed(device: EmulatedDevice): void {
    this.devices.delete(device);
    this.core.containerUsers--;
    if (this.closed && this.devices.size === 0) this.release();
  }

  /** vfio_group_fops_release(). */
  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.core.container) this.detach();
    if (this.core.openedFile === this) this.core.openedFile = undefined;
  }

  private detach(): void {
    this.core.container?.detach(this.core);
    this.container?.groupFiles.delete(this);
    this.container = undefined;
  }

  private check(op: VfioOp): void {
    if (this.closed) fail(op, "EBADF", this.target, "the group file is closed");
  }
}
