/**
 * A VFIO device, whichever way it is reached: ioctl on a device fd, a vfio-user socket, or the
 * emulated machine. Control-path methods return promises because one backend crosses a socket;
 * the kernel and emulated backends return settled promises. The data path is `mapRegion`.
 */
import type { DeviceInfo, IrqInfo, RegionInfo } from "./device-info.js";
import type { EventNotifier } from "./event-notifier.js";
import type { IrqSetRequest } from "./irq-set.js";

export interface VfioDevice extends AsyncDisposable {
  /** The device's name: a PCI address for kernel and emulated devices, the socket for vfio-user. */
  readonly name: string;
  /** VFIO_DEVICE_GET_INFO. */
  info(): Promise<DeviceInfo>;
  /** VFIO_DEVICE_GET_REGION_INFO with its capability chain. Rejects with EINVAL for an index past num_regions. */
  regionInfo(index: number): Promise<RegionInfo>;
  /** Reads `length` bytes at `offset` of region `index` (pread on the device fd). Rejects with EINVAL past the region end. */
  read(index: number, offset: bigint, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset` of region `index` (pwrite on the device fd). */
  write(index: number, offset: bigint, data: Uint8Array): Promise<void>;
  /**
   * Maps `size` bytes at `offset` of region `index` for synchronous access (the data path).
   * Rejects with EINVAL where the region, or that part of it, is not mmap-able (honours sparse areas).
   */
  mapRegion(index: number, offset?: bigint, size?: bigint): Promise<RegionMapping>;
  /** VFIO_DEVICE_GET_IRQ_INFO. */
  irqInfo(index: number): Promise<IrqInfo>;
  /** VFIO_DEVICE_SET_IRQS. */
  setIrqs(request: IrqSetRequest): Promise<void>;
  /** Creates a notifier this backend can signal (an eventfd, or an in-process notifier). */
  createNotifier(): EventNotifier;
  /** VFIO_DEVICE_RESET. */
  reset(): Promise<void>;
  /** Releases the device: its interrupts, its mappings, then its fd. Idempotent. */
  close(): Promise<void>;
}

/**
 * Synchronous little-endian register access: a plain call that returns the value, with no
 * promise, no system call and no allocation per access (the 64-bit accessors return a bigint).
 * A mapped BAR is one; region I/O (`VfioDevice.read`/`write`: pread/pwrite, vfio-user
 * REGION_READ/WRITE) is the asynchronous path and is not.
 */
export interface RegisterBlock {
  /** Bytes the block spans; accesses at [0, size). */
  readonly size: number;
  read8(offset: number): number;
  read16(offset: number): number;
  /** An unsigned 32-bit value. */
  read32(offset: number): number;
  read64(offset: number): bigint;
  write8(offset: number, value: number): void;
  write16(offset: number, value: number): void;
  write32(offset: number, value: number): void;
  write64(offset: number, value: bigint): void;
}

/**
 * A mapped part of a region: a RegisterBlock over the region's bytes or registers. Accesses
 * must be naturally aligned; after `unmap()` every access throws instead of touching unmapped
 * memory.
 */
export interface RegionMapping extends RegisterBlock, Disposable {
  readonly index: number;
  /** Offset of the mapping within its region. */
  readonly offset: bigint;
  readonly size: number;
  /**
   * The bytes themselves, where the mapping is plain memory (a kernel mmap, a vfio-user fd);
   * undefined where each access must reach a device model (emulated MMIO).
   */
  readonly bytes: Uint8Array | undefined;
  /** Unmaps. Idempotent. */
  unmap(): void;
}
