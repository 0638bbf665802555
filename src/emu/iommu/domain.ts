/**
 * An IOMMU domain: the IOVA → memory translations one set of devices shares (struct
 * iommu_domain), with its IOTLB. Translations are held as page-aligned ranges sorted by IOVA,
 * so a walk is a binary search; the type1 driver above decides what may be mapped.
 */
import { Iotlb, type IotlbEntry } from "./iotlb.js";

/** One mapped range: IOVA [iova, iova + size) → `bytes`. */
export interface DomainMapping {
  readonly iova: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly read: boolean;
  readonly write: boolean;
}

/**
 * The result of translating one access: the memory and the offset of the byte in it, with how
 * many bytes up to the end of the page (the translation is valid that far), or why not.
 */
export type Translation =
  | { readonly ok: true; readonly page: Uint8Array; readonly offset: number; readonly available: number }
  | { readonly ok: false; readonly reason: "not-mapped" | "no-read-permission" | "no-write-permission" };

export class IommuDomain {
  private readonly mappings: DomainMapping[] = [];
  readonly iotlb: Iotlb;
  /** Page-table walks done (IOTLB misses that reached the tables). */
  walks = 0;

  constructor(readonly pageSize: number, iotlbEntries = 512) {
    this.iotlb = new Iotlb(iotlbEntries);
  }

  /** Adds a range; the caller has checked it overlaps nothing. */
  map(mapping: DomainMapping): void {
    const at = this.indexAfter(mapping.iova);
    this.mappings.splice(at, 0, mapping);
  }

  /** Removes the mapping that starts at `iova`, and flushes its pages from the IOTLB. */
  unmap(iova: number): void {
    const i = this.find(iova);
    if (i < 0) return;
    const m = this.mappings[i]!;
    this.mappings.splice(i, 1);
    this.iotlb.invalidate(m.iova / this.pageSize, m.size / this.pageSize);
  }

  /** Removes the mappings that start at each of `iovas` (sorted, contiguous in the table). */
  unmapMany(iovas: readonly number[]): void {
    if (iovas.length === 0) return;
    const first = this.find(iovas[0]!);
    if (first < 0) return;
    const gone = this.mappings.splice(first, iovas.length);
    if (gone.length > this.iotlb.size) {
      this.iotlb.flush();
      return;
    }
    for (const m of gone) this.iotlb.invalidate(m.iova / this.pageSize, m.size / this.pageSize);
  }

  /** Removes every mapping (domain detach) and flushes the IOTLB. */
  clear(): void {
    this.mappings.length = 0;
    this.iotlb.flush();
  }

  /** Translates an access to one page; `iova` may be anywhere in the page. */
  translate(iova: number, access: "read" | "write"): Translation {
    const pageNumber = Math.floor(iova / this.pageSize);
    const offset = iova - pageNumber * this.pageSize;
    let entry: IotlbEntry | undefined = this.iotlb.lookup(pageNumber);
    if (!entry) {
      this.walks++;
      const i = this.find(iova);
      if (i < 0) return { ok: false, reason: "not-mapped" };
      const m = this.mappings[i]!;
      entry = { bytes: m.bytes, base: pageNumber * this.pageSize - m.iova, read: m.read, write: m.write };
      this.iotlb.insert(pageNumber, entry);
    }
    if (access === "write" && !entry.write) return { ok: false, reason: "no-write-permission" };
    if (access === "read" && !entry.read) return { ok: false, reason: "no-read-permission" };
    return { ok: true, page: entry.bytes, offset: entry.base + offset, available: this.pageSize - offset };
  }

  get count(): number {
    return this.mappings.length;
  }

  /** Index of the mapping containing `iova`, or -1. */
  private find(iova: number): number {
    let lo = 0;
    let hi = this.mappings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.mappings[mid]!;
      if (iova < m.iova) hi = mid - 1;
      else if (iova >= m.iova + m.size) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  private indexAfter(iova: number): number {
    let lo = 0;
    let hi = this.mappings.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.mappings[mid]!.iova < iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
