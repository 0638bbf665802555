/**
 * The IOTLB: a small cache of page translations in front of the page-table walk, as the VT-d
 * IOTLB caches second-level translations (Intel VT-d spec §6.2). Entries are dropped when the
 * mapping behind them goes away (the kernel's unmap flushes the IOTLB before it returns, so a
 * stale entry would be a bug the kernel does not have).
 */

/** A cached translation of one IOVA page. */
export interface IotlbEntry {
  /** The memory the page lies in (the whole mapping: no per-page view is allocated). */
  readonly bytes: Uint8Array;
  /** Where the page starts in `bytes`. */
  readonly base: number;
  readonly read: boolean;
  readonly write: boolean;
}

export class Iotlb {
  private readonly entries = new Map<number, IotlbEntry>();
  /**
   * Insertion order as a ring of page numbers, for FIFO eviction. (Asking the Map for its
   * oldest key instead walks over the slots of deleted entries, which made every miss slow.)
   * A page invalidated and cached again appears twice; evicting its older slot only costs a miss.
   */
  private readonly ring: Float64Array;
  private head = 0;
  private filled = 0;
  hits = 0;
  misses = 0;

  /** `capacity` entries, evicted oldest first. */
  constructor(readonly capacity = 512) {
    this.ring = new Float64Array(capacity);
  }

  lookup(pageNumber: number): IotlbEntry | undefined {
    const entry = this.entries.get(pageNumber);
    if (entry) this.hits++;
    else this.misses++;
    return entry;
  }

  insert(pageNumber: number, entry: IotlbEntry): void {
    if (this.filled === this.capacity) this.entries.delete(this.ring[this.head]!);
    else this.filled++;
    this.ring[this.head] = pageNumber;
    this.head = (this.head + 1) % this.capacity;
    this.entries.set(pageNumber, entry);
  }

  /** Drops the entries of pages [first, first + count). */
  invalidate(first: number, count: number): void {
    if (count >= this.entries.size) {
      for (const key of [...this.entries.keys()]) if (key >= first && key < first + count) this.entries.delete(key);
      return;
    }
    for (let p = first; p < first + count; p++) this.entries.delete(p);
  }

  flush(): void {
    this.entries.clear();
    this.filled = 0;
    this.head = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
