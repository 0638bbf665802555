/**
 * Register access to one BAR of a VfioDevice, whichever way the backend offers it: a mapping
 * (kernel mmap, a vfio-user region with an fd, the emulator's synchronous MMIO view) where the
 * region says it is mmap-able, else region reads and writes (pread/pwrite on the device fd,
 * vfio-user REGION_READ/WRITE). Drivers written against this run on every backend.
 */
import type { RegionMapping, VfioDevice } from "../api/device.js";
import { VFIO_REGION_INFO_FLAG_MMAP } from "../api/constants.js";

export interface BarAccessOptions {
  /** Map the region when it is mmap-able (default true); false forces region read/write. */
  readonly mmap?: boolean;
}

/** Little-endian register access to a BAR. Accesses are naturally aligned, as PCI requires. */
export interface BarAccess {
  readonly index: number;
  /** True when accesses go through a mapping, with no system call or message per access. */
  readonly mapped: boolean;
  read32(offset: number): Promise<number>;
  write32(offset: number, value: number): Promise<void>;
  /** Unmaps (where mapped). Idempotent. */
  close(): void;
}

function le(bytes: Uint8Array): number {
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

class MappedBar implements BarAccess {
  readonly mapped = true;
  constructor(readonly index: number, private readonly mapping: RegionMapping) {}
  async read32(offset: number): Promise<number> {
    return this.mapping.read32(offset) >>> 0;
  }
  async write32(offset: number, value: number): Promise<void> {
    this.mapping.write32(offset, value >>> 0);
  }
  close(): void {
    this.mapping.unmap();
  }
}

class RegionBar implements BarAccess {
  readonly mapped = false;
  constructor(readonly index: number, private readonly device: VfioDevice) {}
  async read32(offset: number): Promise<number> {
    return le(await this.device.read(this.index, BigInt(offset), 4));
  }
  async write32(offset: number, value: number): Promise<void> {
    const v = value >>> 0;
    await this.device.write(this.index, BigInt(offset), Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24));
  }
  close(): void {}
}

/**
 * Opens register access to BAR `index`: a mapping of the whole region when the region info
 * has VFIO_REGION_INFO_FLAG_MMAP (and options allow), else region reads and writes.
 *
 * @example
 * const bar0 = await openBar(device, 0);
 * const id = await bar0.read32(0x00);
 * bar0.close();
 */
export async function openBar(device: VfioDevice, index: number, options: BarAccessOptions = {}): Promise<BarAccess> {
  const info = await device.regionInfo(index);
  if ((options.mmap ?? true) && (info.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0) {
    return new MappedBar(index, await device.mapRegion(index, 0n, info.size));
  }
  return new RegionBar(index, device);
}
