/**
 * The IOTLB: a small cache of page translations in front of the page-table walk, as the VT-d
 * IOTLB caches second-level translations (Intel VT-d spec §6.2). Entries are dropped when the
 * mapping behind them goes away (the kernel's unmap flushes the IOTLB before it returns, so a
 * stale entry would be a bug the kernel does not have).
 */

/** A cached translation of one IOVA page. */
export interface IotlbEntry {
  /** The page's memory (exactly one page long). */
  readonly page: Uint8Array;
  readonly read: boolean;
  readonly write: boolean;
}

export class Iotlb {
  private readonly entries = new Map<number, IotlbEntry>();
  hits = 0;
  misses = 0;

  /** `capacity` entries, evicted oldest first. */
  constructor(readonly capacity = 512) {}

  lookup(pageNumber: number): IotlbEntry | undefined {
    const entry = this.entries.get(pageNumber);
    if (entry) this.hits++;
    else this.misses++;
    return entry;
  }

  insert(pageNumber: number, entry: IotlbEntry): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
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
  }

  get size(): number {
    return this.entries.size;
  }
}
