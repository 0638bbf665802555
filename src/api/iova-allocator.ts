/**
 * Chooses IOVAs for DMA buffers: inside the IOMMU's usable ranges (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
 * which excludes e.g. the x86 MSI window 0xfee00000-0xfeefffff), below the device's DMA limit
 * (a 28-bit mask allows only IOVAs below 1 << 28), aligned, and overlapping nothing mapped.
 * Backend-neutral: the kernel container and the emulated machine use the same allocator.
 */
import type { IovaRange } from "./container.js";
import { VfioError } from "./errors.js";

export interface IovaAllocateOptions {
  /** Highest IOVA plus one that the device can reach. */
  readonly limit?: bigint;
  /** Alignment of the IOVA (a power of two, at least the page size). */
  readonly align?: bigint;
  /** A fixed IOVA: reserved as given, or refused. */
  readonly iova?: bigint;
}

interface Interval {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
}

/** First-fit IOVA allocation over a set of usable ranges. */
export class IovaAllocator {
  readonly #ranges: readonly IovaRange[];
  readonly #pageSize: bigint;
  /** Sorted by start, non-overlapping. */
  readonly #used: Interval[] = [];

  /**
   * @param ranges usable IOVA ranges, `end` inclusive as in struct vfio_iova_range.
   * @param pageSize the IOMMU's smallest page size (IOVAs and sizes are multiples of it).
   */
  constructor(ranges: readonly IovaRange[], pageSize: bigint) {
    this.#ranges = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.#pageSize = pageSize;
  }

  /** Bytes currently allocated. */
  get allocated(): bigint {
    return this.#used.reduce((sum, i) => sum + (i.end - i.start), 0n);
  }

  /** Number of allocations. */
  get count(): number {
    return this.#used.length;
  }

  /**
   * Reserves `size` bytes (a multiple of the page size) and returns the IOVA.
   * Throws VfioError "ENOSPC" when no gap fits, "EINVAL" for a fixed IOVA outside the usable
   * ranges or misaligned (as VFIO_IOMMU_MAP_DMA answers), "EEXIST" when it overlaps an allocation.
   */
  allocate(size: bigint, options: IovaAllocateOptions = {}): bigint {
    const page = this.#pageSize;
    if (size <= 0n || size % page !== 0n) throw new VfioError(`IOVA size ${size} is not a positive multiple of ${page}`, "EINVAL");
    const limit = options.limit ?? 1n << 64n;
    if (options.iova !== undefined) return this.#reserveFixed(options.iova, size, limit);
    const align = options.align !== undefined && options.align > page ? options.align : page;
    for (const range of this.#ranges) {
      // IOVA 0 is left unused: a zero bus address reads as "no buffer" to many devices and drivers.
      let candidate = alignUp(range.start > page ? range.start : page, align);
      const rangeEnd = minBig(range.end + 1n, limit);
      for (const used of this.#used) {
        if (used.end <= candidate) continue;
        if (used.start >= candidate + size) break;
        candidate = alignUp(used.end, align);
      }
      if (candidate + size <= rangeEnd) {
        this.#insert({ start: candidate, end: candidate + size });
        return candidate;
      }
    }
    throw new VfioError(
      `no free IOVA range of ${size} bytes below 0x${limit.toString(16)} (usable: ${this.#describeRanges()}; ${this.#used.length} allocations)`,
      "ENOSPC",
    );
  }

  /** Releases the allocation that starts at `iova`; false when there is none. */
  release(iova: bigint): boolean {
    const index = this.#used.findIndex((i) => i.start === iova);
    if (index < 0) return false;
    this.#used.splice(index, 1);
    return true;
  }

  #reserveFixed(iova: bigint, size: bigint, limit: bigint): bigint {
    if (iova % this.#pageSize !== 0n) throw new VfioError(`IOVA 0x${iova.toString(16)} is not aligned to ${this.#pageSize}`, "EINVAL");
    const end = iova + size;
    if (end > limit) throw new VfioError(`IOVA 0x${iova.toString(16)}+${size} is beyond the device's DMA limit 0x${limit.toString(16)}`, "EINVAL");
    if (!this.#ranges.some((r) => iova >= r.start && end - 1n <= r.end)) {
      throw new VfioError(`IOVA 0x${iova.toString(16)}+${size} is outside the usable ranges ${this.#describeRanges()}`, "EINVAL");
    }
    if (this.#used.some((u) => u.start < end && iova < u.end)) throw new VfioError(`IOVA 0x${iova.toString(16)}+${size} overlaps an existing mapping`, "EEXIST");
    this.#insert({ start: iova, end });
    return iova;
  }

  #insert(interval: Interval): void {
    let i = this.#used.findIndex((u) => u.start > interval.start);
    if (i < 0) i = this.#used.length;
    this.#used.splice(i, 0, interval);
  }

  #describeRanges(): string {
    return this.#ranges.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`).join(", ") || "none";
  }
}

function alignUp(value: bigint, align: bigint): bigint {
  return ((value + align - 1n) / align) * align;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
