/**
 * A VFIO group, /dev/vfio/N: the unit of ownership (every device of an IOMMU group goes to one
 * user). VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER / UNSET_CONTAINER,
 * VFIO_GROUP_GET_DEVICE_FD (Documentation/driver-api/vfio.rst, "Groups, Devices, and IOMMUs").
 */
import { closeChildren } from "./close-children.js";
import type { Container, Group } from "../api/container.js";
import type { VfioDevice } from "../api/device.js";
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE } from "../api/constants.js";
import { errnoValue } from "../api/errors.js";
import {
  VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER,
} from "../abi/ioctl-number.js";
import { groupStatusLayout } from "../abi/vfio/group-status.js";
import { syscallError, type KernelContext } from "./context.js";
import { KernelContainer } from "./container.js";
import { KernelDevice } from "./device.js";
import { explainDeviceFdRefused, explainNotViable, groupMembers, safeHint } from "../api/explain.js";

/** /dev/vfio/N opened. Create with KernelSystem.openGroup(). */
export class KernelGroup implements Group {
  #fd: number;
  readonly #ctx: KernelContext;
  #container: KernelContainer | undefined;
  readonly #devices = new Set<KernelDevice>();
  #onClose: (() => void) | undefined;

  /** @internal Takes ownership of `fd`. */
  constructor(ctx: KernelContext, readonly id: number, fd: number, onClose?: () => void) {
    this.#ctx = ctx;
    this.#fd = fd;
    this.#onClose = onClose;
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The container this group is attached to, if any. */
  get container(): KernelContainer | undefined {
    return this.#container;
  }

  /** Devices opened from this group and not yet closed. */
  get devices(): readonly KernelDevice[] {
    return [...this.#devices];
  }

  get #target(): string {
    return `group ${this.id}`;
  }

  async status(): Promise<number> {
    const buffer = groupStatusLayout.encode({ argsz: groupStatusLayout.size, flags: 0 });
    const result = this.#ctx.libc.ioctlBuffer(this.#liveFd("VFIO_GROUP_GET_STATUS"), VFIO_GROUP_GET_STATUS, buffer);
    if (result < 0) throw syscallError("VFIO_GROUP_GET_STATUS", result, this.#target);
    return groupStatusLayout.decode(buffer).flags;
  }

  /** Whether the group is viable (VFIO_GROUP_FLAGS_VIABLE). */
  async viable(): Promise<boolean> {
    return ((await this.status()) & VFIO_GROUP_FLAGS_VIABLE) !== 0;
  }

  async setContainer(container: Container): Promise<void> {
    const fd = this.#liveFd("VFIO_GROUP_SET_CONTAINER");
    if (!(container instanceof KernelContainer)) {
      // The ioctl takes a container fd: only a kernel container has one.
      throw syscallError("VFIO_GROUP_SET_CONTAINER", -errnoValue("EBADF"), this.#target, "the container is not a kernel container (it has no fd)");
    }
    const arg = new Int32Array([container.fd]);
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_GROUP_SET_CONTAINER, new Uint8Array(arg.buffer));
    if (result < 0) throw syscallError("VFIO_GROUP_SET_CONTAINER", result, this.#target, await safeHint(() => this.#setContainerHint(-result)));
    this.#container = container;
    container.attachGroup(this);
  }

  async unsetContainer(): Promise<void> {
    const result = this.#ctx.libc.ioctlValue(this.#liveFd("VFIO_GROUP_UNSET_CONTAINER"), VFIO_GROUP_UNSET_CONTAINER, 0);
    if (result < 0) {
      const hint = -result === errnoValue("EBUSY") ? `close the group's ${this.#devices.size} open device(s) first`
        : this.#container === undefined ? "the group is not in a container" : undefined;
      throw syscallError("VFIO_GROUP_UNSET_CONTAINER", result, this.#target, hint);
    }
    this.#container?.detachGroup(this);
    this.#container = undefined;
  }

  async openDevice(name: string): Promise<VfioDevice> {
    return this.openKernelDevice(name);
  }

  /** openDevice() with the concrete type. */
  async openKernelDevice(name: string): Promise<KernelDevice> {
    const result = this.#ctx.libc.ioctlString(this.#liveFd("VFIO_GROUP_GET_DEVICE_FD"), VFIO_GROUP_GET_DEVICE_FD, name);
    if (result < 0) throw syscallError("VFIO_GROUP_GET_DEVICE_FD", result, `device ${name} in ${this.#target}`, await safeHint(() => this.#deviceFdHint(-result, name)));
    const device = new KernelDevice(this.#ctx, name, result, this.id, () => this.#devices.delete(device));
    this.#devices.add(device);
    return device;
  }

  /** Closes the group's devices, then its fd (which detaches it from its container). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    const errors = await closeChildren(this.#devices);
    this.#ctx.libc.close(this.#fd);
    this.#fd = -1;
    // Closing the group fd unsets its container (vfio_group_fops_release, Linux 6.1).
    this.#container?.detachGroup(this);
    this.#container = undefined;
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
    if (errors.length > 0) throw errors[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #liveFd(op: Parameters<typeof syscallError>[0]): number {
    if (this.#fd < 0) throw syscallError(op, -errnoValue("EBADF"), this.#target, "the group is closed");
    return this.#fd;
  }

  async #setContainerHint(errno: number): Promise<string | undefined> {
    if (errno === errnoValue("EPERM")) return explainNotViable(this.#ctx.sysfs, this.id);
    if (errno === errnoValue("EINVAL") && this.#container !== undefined) return "the group is already in a container";
    if (errno === errnoValue("EBUSY")) return "the group is already in a container: unset it first";
    return undefined;
  }

  async #deviceFdHint(errno: number, name: string): Promise<string | undefined> {
    if (errno === errnoValue("EINVAL")) {
      const flags = await this.status().catch(() => undefined);
      if (flags !== undefined && (flags & VFIO_GROUP_FLAGS_VIABLE) === 0) return explainNotViable(this.#ctx.sysfs, this.id);
      const containerSet = flags !== undefined ? (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0 : this.#container !== undefined;
      return explainDeviceFdRefused(this.id, containerSet, this.#container?.iommuType !== undefined, name);
    }
    if (errno === errnoValue("ENODEV")) {
      const members = await groupMembers(this.#ctx.sysfs, this.id);
      const list = members?.map((m) => m.address).join(", ");
      return `${name} is not a device of group ${this.id}${list ? ` (its devices: ${list})` : ""}`;
    }
    if (errno === errnoValue("EBUSY")) return `${name} is in use (by another VFIO user, or being reset or removed)`;
    return undefined;
  }
}
