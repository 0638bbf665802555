/**
 * A device file of the emulated machine (VFIO_GROUP_GET_DEVICE_FD): the VfioDevice API over
 * vfio-pci's state for the function, with region mappings that reach the device model
 * directly (the emulated counterpart of an mmap of a BAR).
 */
import type { DeviceInfo, IrqInfo, RegionInfo } from "../../api/device-info.js";
import type { RegionMapping, VfioDevice } from "../../api/device.js";
import type { EventNotifier } from "../../api/event-notifier.js";
import type { IrqSetRequest } from "../../api/irq-set.js";
import type { VfioOp } from "../../api/op.js";
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { InProcessNotifier } from "../notifier.js";
import { readBar, writeBar } from "../../devices/pci/bar-routing.js";
import { fail } from "./errno.js";
import type { VfioPciDevice } from "./pci-device.js";

export class EmulatedDevice implements VfioDevice {
  readonly name: string;
  private closed = false;
  private readonly mappings = new Set<EmulatedRegionMapping>();

  constructor(readonly vdev: VfioPciDevice, private readonly onClose: () => void) {
    this.name = vdev.name;
  }

  async info(): Promise<DeviceInfo> {
    this.check("VFIO_DEVICE_GET_INFO");
    return this.vdev.info();
  }

  async regionInfo(index: number): Promise<RegionInfo> {
    this.check("VFIO_DEVICE_GET_REGION_INFO");
    return this.vdev.regionInfo(index);
  }

  async read(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    this.check("region read");
    return this.vdev.read(index, offset, length);
  }

  async write(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    this.check("region write");
    const written = this.vdev.write(index, offset, data);
    // The kernel backend's answer to a pwrite cut short at the region's end (kernel/device.ts).
    if (written < data.length) fail("region write", "EINVAL", `device ${this.name} region ${index}`, `only ${written} of ${data.length} bytes written: the write crosses the region's end`);
  }

  async mapRegion(index: number, offset = 0n, size?: bigint): Promise<RegionMapping> {
    this.check("mmap");
    const length = size ?? this.vdev.barSize(index) - offset;
    this.vdev.checkMmap(index, offset, length);
    const mapping = new EmulatedRegionMapping(this.vdev, index, offset, Number(length), () => this.mappings.delete(mapping));
    this.mappings.add(mapping);
    return mapping;
  }

  async irqInfo(index: number): Promise<IrqInfo> {
    this.check("VFIO_DEVICE_GET_IRQ_INFO");
    return this.vdev.irqInfo(index);
  }

  async setIrqs(request: IrqSetRequest): Promise<void> {
    this.check("VFIO_DEVICE_SET_IRQS");
    this.vdev.setIrqs(request);
  }

  createNotifier(): EventNotifier {
    return new InProcessNotifier();
  }

  async reset(): Promise<void> {
    this.check("VFIO_DEVICE_RESET");
    this.vdev.reset();
  }

  /** vfio_device_fops_release(): unmaps, and on the last close vfio-pci disables the device. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of [...this.mappings]) m.unmap();
    // vfio_device_fops_release(): vfio-pci's close_device first, then the group's bookkeeping
    // (an unbind waiting for the last close resumes only after both, on a later microtask).
    this.vdev.release();
    this.onClose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private check(op: VfioOp): void {
    if (this.closed) fail(op, "EBADF", `device ${this.name}`, "the device file is closed");
  }
}

/**
 * A BAR window mapped for synchronous access. Each access reaches the device model, as an
 * access to an mmap of real MMIO reaches the device; with Memory Space disabled the access
 * faults (the kernel's fault handler gives SIGBUS), here a thrown error.
 */
export class EmulatedRegionMapping implements RegionMapping {
  readonly bytes = undefined;
  private mapped = true;

  constructor(
    private readonly vdev: VfioPciDevice,
    readonly index: number,
    readonly offset: bigint,
    readonly size: number,
    private readonly onUnmap: () => void,
  ) {}

  read8(offset: number): number {
    return Number(this.access(offset, 1));
  }
  read16(offset: number): number {
    return Number(this.access(offset, 2));
  }
  read32(offset: number): number {
    return Number(this.access(offset, 4));
  }
  read64(offset: number): bigint {
    return this.access(offset, 8);
  }
  write8(offset: number, value: number): void {
    this.access(offset, 1, BigInt(value & 0xff));
  }
  write16(offset: number, value: number): void {
    this.access(offset, 2, BigInt(value & 0xffff));
  }
  write32(offset: number, value: number): void {
    this.access(offset, 4, BigInt(value >>> 0));
  }
  write64(offset: number, value: bigint): void {
    this.access(offset, 8, BigInt.asUintN(64, value));
  }

  unmap(): void {
    if (!this.mapped) return;
    this.mapped = false;
    this.onUnmap();
  }

  [Symbol.dispose](): void {
    this.unmap();
  }

  private access(offset: number, size: 1 | 2 | 4 | 8, value?: bigint): bigint {
    if (!this.mapped) throw new VfioSystemError("mapping access", errnoValue("EFAULT"), "emulated", `BAR${this.index} mapping`, "used after unmap()");
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size || offset % size !== 0) {
      throw new RangeError(`BAR${this.index}: ${size}-byte access at ${offset} is outside the mapping or unaligned`);
    }
    const config = this.vdev.config;
    if (!config || !config.memoryEnabled()) {
      throw new VfioSystemError("mapping access", errnoValue("EIO"), "emulated", `BAR${this.index} mapping`, "Memory Space Enable is off (real hardware: SIGBUS)");
    }
    const at = this.offset + BigInt(offset);
    // The MSI-X table and PBA are the function's (msix_mappable_cap: x86 lets userspace map
    // them), every other byte the model's.
    const { config: physical, model } = this.vdev.fn;
    if (value === undefined) return readBar(physical, model, this.index, at, size);
    writeBar(physical, model, this.index, at, size, value);
    return 0n;
  }
}
