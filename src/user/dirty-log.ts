/**
 * DMA dirty logging for migration (DEVICE_FEATURE DMA_LOGGING_START/REPORT, spec
 * §"VFIO_USER_DEVICE_FEATURE"; Linux include/uapi/linux/vfio.h
 * vfio_device_feature_dma_logging_*): the pages, in the logging page size, the device wrote,
 * reported as a bitmap in the report's page size. Bits are set a run at a time, so a report's
 * cost follows the bitmap's size, never the ratio of the two page sizes a client picks.
 */
export interface LoggedRange {
  readonly iova: bigint;
  readonly length: bigint;
}

export class DirtyLog {
  readonly #pageSize: bigint;
  readonly #ranges: readonly LoggedRange[];
  readonly #dirty = new Set<bigint>();

  constructor(pageSize: bigint, ranges: readonly LoggedRange[]) {
    this.#pageSize = pageSize;
    this.#ranges = ranges;
  }

  /** Records a device write of `length` bytes at `address`. */
  mark(address: bigint, length: number): void {
    if (length === 0) return;
    const end = address + BigInt(length);
    if (this.#ranges.length > 0 && !this.#ranges.some((r) => address < r.iova + r.length && r.iova < end)) return;
    for (let page = address / this.#pageSize; page * this.#pageSize < end; page++) this.#dirty.add(page);
  }

  /** The bitmap of [iova, iova+length) in `pageSize` units, as u64 words; pages reported whole are cleared. */
  report(iova: bigint, length: bigint, pageSize: bigint): Uint8Array {
    const pages = (length + pageSize - 1n) / pageSize;
    const out = new Uint8Array(Number((pages + 63n) / 64n) * 8);
    const end = iova + length;
    for (const page of [...this.#dirty]) {
      const start = page * this.#pageSize;
      const stop = start + this.#pageSize;
      if (stop <= iova || start >= end) continue;
      const first = start > iova ? (start - iova) / pageSize : 0n;
      const last = (stop - 1n - iova) / pageSize;
      setBits(out, Number(first), Number(last < pages - 1n ? last : pages - 1n));
      // The kernel's report clears what it returns: pages wholly inside the range.
      if (start >= iova && stop <= end) this.#dirty.delete(page);
    }
    return out;
  }
}

/** Sets bits [first, last] of a little-endian bitmap, whole bytes at a time in the middle. */
function setBits(out: Uint8Array, first: number, last: number): void {
  let bit = first;
  while (bit <= last && bit % 8 !== 0) out[bit >> 3]! |= 1 << (bit & 7), bit++;
  const wholeBytesEnd = (last + 1) >> 3;
  if (bit >> 3 < wholeBytesEnd) {
    out.fill(0xff, bit >> 3, wholeBytesEnd);
    bit = wholeBytesEnd << 3;
  }
  for (; bit <= last; bit++) out[bit >> 3]! |= 1 << (bit & 7);
}
