/**
 * Register access to one BAR of a VfioDevice, whichever way the backend offers it, with the
 * difference visible in the type:
 *
 * - a `MappedBar` (kernel mmap, a vfio-user region with an fd, the emulator's MMIO view) where
 *   the region says it is mmap-able: `read32`/`write32` are plain synchronous calls, no promise
 *   and no system call or message per access;
 * - a `RegionBar` otherwise: pread/pwrite on the device fd, vfio-user REGION_READ/WRITE, each
 *   access a promise.
 *
 * A driver branches once on `bar.mapped` (TypeScript then knows which it has) and keeps its hot
 * paths free of `await` on a mapped BAR. Drivers written against this run on every backend.
 */
import type { RegionMapping, RegisterBlock, VfioDevice } from "../api/device.js";
import { VFIO_REGION_INFO_FLAG_MMAP } from "../api/constants.js";

export interface BarAccessOptions {
  /** Map the region when it is mmap-able (default true); false forces region read/write. */
  readonly mmap?: boolean;
}

/** One register write of a sequence: offset, 32-bit value. */
export type RegisterWrite = readonly [offset: number, value: number];

/** A BAR reached through a mapping: synchronous, naturally aligned, little-endian. */
export interface MappedBar {
  readonly index: number;
  readonly mapped: true;
  /** The mapping itself, for 8/16/64-bit accesses. */
  readonly registers: RegisterBlock;
  read32(offset: number): number;
  write32(offset: number, value: number): void;
  /** Writes `writes` in order. */
  writeAll(writes: readonly RegisterWrite[]): void;
  /** Unmaps. Idempotent. */
  close(): void;
}

/** A BAR reached by region reads and writes: each access crosses the device fd or the socket. */
export interface RegionBar {
  readonly index: number;
  readonly mapped: false;
  read32(offset: number): Promise<number>;
  write32(offset: number, value: number): Promise<void>;
  /** Writes `writes` in order, each after the previous one completed. */
  writeAll(writes: readonly RegisterWrite[]): Promise<void>;
  close(): void;
}

export type BarAccess = MappedBar | RegionBar;

class Mapped implements MappedBar {
  readonly mapped = true;
  constructor(readonly index: number, private readonly mapping: RegionMapping) {}
  get registers(): RegisterBlock {
    return this.mapping;
  }
  read32(offset: number): number {
    return this.mapping.read32(offset) >>> 0;
  }
  write32(offset: number, value: number): void {
    this.mapping.write32(offset, value >>> 0);
  }
  writeAll(writes: readonly RegisterWrite[]): void {
    for (const [offset, value] of writes) this.mapping.write32(offset, value >>> 0);
  }
  close(): void {
    this.mapping.unmap();
  }
}

class Region implements RegionBar {
  readonly mapped = false;
  constructor(readonly index: number, private readonly device: VfioDevice) {}
  async read32(offset: number): Promise<number> {
    const b = await this.device.read(this.index, BigInt(offset), 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  async write32(offset: number, value: number): Promise<void> {
    const v = value >>> 0;
    await this.device.write(this.index, BigInt(offset), Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24));
  }
  async writeAll(writes: readonly RegisterWrite[]): Promise<void> {
    for (const [offset, value] of writes) await this.write32(offset, value);
  }
  close(): void {}
}

/**
 * Opens register access to BAR `index`: a mapping of the whole region when the region info
 * has VFIO_REGION_INFO_FLAG_MMAP (and options allow), else region reads and writes.
 *
 * @example
 * const bar0 = await openBar(device, 0);
 * const id = bar0.mapped ? bar0.read32(0x00) : await bar0.read32(0x00);
 * bar0.close();
 */
export async function openBar(device: VfioDevice, index: number, options: BarAccessOptions = {}): Promise<BarAccess> {
  const info = await device.regionInfo(index);
  if ((options.mmap ?? true) && (info.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0) {
    return new Mapped(index, await device.mapRegion(index, 0n, info.size));
  }
  return new Region(index, device);
}

/**
 * Applies `f` to a register value read either way: at once on a mapped BAR (no promise is
 * made), after the read on a region BAR.
 */
export function thenValue<R>(value: number | Promise<number>, f: (value: number) => R): R | Promise<R> {
  return typeof value === "number" ? f(value) : value.then(f);
}

