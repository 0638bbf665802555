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
import { ModelMapping } from "../pci/model-mapping.js";
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
 * A BAR window of a vfio-pci device mmapped by the user (ModelMapping does the access rules);
 * unmapping releases it from the device's set of mappings.
 */
export class EmulatedRegionMapping extends ModelMapping {
  constructor(
    private readonly vdev: VfioPciDevice,
    index: number,
    offset: bigint,
    size: number,
    private readonly released: () => void,
  ) {
    super(index, offset, size);
  }

  protected memoryEnabled(): boolean {
    return this.vdev.config?.memoryEnabled() === true;
  }

  protected override onUnmap(): void {
    this.released();
  }

  protected reach(at: bigint, size: 1 | 2 | 4 | 8, value?: bigint): bigint {
    // The MSI-X table and PBA are the function's (msix_mappable_cap: x86 lets userspace map
    // them), every other byte the model's.
    const { config: physical, model } = this.vdev.fn;
    if (value === undefined) return readBar(physical, model, this.index, at, size);
    writeBar(physical, model, this.index, at, size, value);
    return 0n;
  }
}
