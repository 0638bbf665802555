/**
 * The type1 IOMMU driver of VFIO (drivers/vfio/vfio_iommu_type1.c, Linux 6.1): DMA mappings
 * of process memory at IOVAs, with the kernel's rules and errnos.
 *
 * MAP_DMA (vfio_iommu_type1_map_dma → vfio_dma_do_map):
 *  - unknown flags → EINVAL; neither READ nor WRITE (and no VADDR), or VADDR with READ/WRITE → EINVAL
 *  - size 0, or size/iova/vaddr not aligned to the smallest IOMMU page → EINVAL
 *  - IOVA or vaddr range wraps → EINVAL
 *  - overlaps an existing mapping → EEXIST
 *  - no mapping left (dma_entry_limit, default U16_MAX = 65535) → ENOSPC
 *  - not inside one of the valid IOVA ranges (aperture minus reserved regions) → EINVAL
 *  - a vaddr page that is not mapped in the process → EFAULT (pin_user_pages), nothing mapped
 * UNMAP_DMA (vfio_dma_do_unmap):
 *  - unknown flags, GET_DIRTY_BITMAP with ALL or VADDR → EINVAL
 *  - iova not page aligned; with ALL: iova or size non-zero; else size 0, unaligned, or wrapping → EINVAL
 *  - v2: the range bisects a mapping at either end → EINVAL; no mapping in range → success, size 0
 *  - v1: a mapping is unmapped whole when the range covers its first byte; a range starting
 *    inside a mapping stops there with success
 */
import type { DmaMapRequest, DmaUnmapRequest, IommuInfo, IovaRange } from "../../api/container.js";
import {
  VFIO_DMA_CC_IOMMU, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES, VFIO_TYPE1_IOMMU, VFIO_TYPE1_NESTING_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
} from "../../api/constants.js";
import { IommuDomain } from "../iommu/domain.js";
import type { ProcessAddressSpace } from "../process/address-space.js";
import { fail } from "./errno.js";

const U64_MAX = (1n << 64n) - 1n;
/** DIRTY_BITMAP_SIZE_MAX: DIRTY_BITMAP_BYTES(INT_MAX pages), reported in the migration capability. */
const DIRTY_BITMAP_SIZE_MAX = 0x1000_0000n;

/** vfio_iommu_type1_check_extension(); `hasIommu` false before VFIO_SET_IOMMU. */
export function type1CheckExtension(extension: number, iommu: Type1Iommu | undefined): number {
  switch (extension) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_TYPE1_NESTING_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_UPDATE_VADDR:
      // Offered only by an open type1 (and not with emulated mdev devices, which have none here).
      return iommu ? 1 : 0;
    case VFIO_DMA_CC_IOMMU:
      // Needs every domain to enforce cache coherency; the emulated VT-d, like QEMU's without
      // snoop control, does not, so this is 0 even with an IOMMU set.
      return iommu ? (iommu.enforceCacheCoherency ? 1 : 0) : 0;
    default:
      return 0;
  }
}

/** What the emulated IOMMU hardware offers type1 (the attached domains' properties). */
export interface IommuHardware {
  /** Supported page sizes (struct iommu_domain.pgsize_bitmap). */
  readonly pgsizeBitmap: bigint;
  /** Aperture end, inclusive (domain geometry). */
  readonly apertureEnd: bigint;
  /** Reserved IOVA ranges of the attached devices (the MSI window on x86). */
  readonly reserved: readonly IovaRange[];
  readonly enforceCacheCoherency: boolean;
  readonly pageSize: number;
}

interface VfioDma {
  readonly iova: bigint;
  readonly size: bigint;
  vaddr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  vaddrInvalid: boolean;
}

/** One container's type1 IOMMU state (struct vfio_iommu). */
export class Type1Iommu {
  readonly v2: boolean;
  readonly domain: IommuDomain;
  private readonly dmas: VfioDma[] = [];
  private dmaAvail: number;
  readonly pgsizeBitmap: bigint;
  readonly enforceCacheCoherency: boolean;
  readonly iovaRanges: readonly IovaRange[];

  constructor(
    type: number,
    private readonly hardware: IommuHardware,
    private readonly memory: ProcessAddressSpace,
    readonly dmaEntryLimit = 65535,
    private readonly target = "container",
  ) {
    this.v2 = type !== VFIO_TYPE1_IOMMU;
    this.dmaAvail = dmaEntryLimit;
    // vfio_update_pgsize_bitmap(): sizes below PAGE_SIZE are hidden and PAGE_SIZE claimed.
    let bitmap = hardware.pgsizeBitmap;
    const page = BigInt(hardware.pageSize);
    if (bitmap & (page - 1n)) bitmap = (bitmap & ~(page - 1n)) | page;
    this.pgsizeBitmap = bitmap;
    this.enforceCacheCoherency = hardware.enforceCacheCoherency;
    this.iovaRanges = subtractRanges({ start: 0n, end: hardware.apertureEnd }, hardware.reserved);
    this.domain = new IommuDomain(hardware.pageSize);
  }

  /** The smallest IOMMU page: 1 << __ffs(pgsize_bitmap). */
  get minPageSize(): bigint {
    const b = this.pgsizeBitmap;
    return b & -b;
  }

  get mappingCount(): number {
    return this.dmas.length;
  }

  /** VFIO_IOMMU_MAP_DMA. */
  map(request: DmaMapRequest): void {
    const op = "VFIO_IOMMU_MAP_DMA";
    const mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
    if (request.flags & ~mask) fail(op, "EINVAL", this.target, `unknown flags 0x${(request.flags & ~mask).toString(16)}`);
    const { iova, size, vaddr } = request;
    if (iova < 0n || iova > U64_MAX || size < 0n || size > U64_MAX || vaddr < 0n || vaddr > U64_MAX) {
      fail(op, "EINVAL", this.target, "a field does not fit in 64 bits");
    }
    const setVaddr = (request.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
    const read = (request.flags & VFIO_DMA_MAP_FLAG_READ) !== 0;
    const write = (request.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0;
    const prot = read || write;
    if (prot === setVaddr) fail(op, "EINVAL", this.target, setVaddr ? "VADDR cannot be combined with READ/WRITE" : "neither READ nor WRITE asked");
    const pg = this.minPageSize;
    if (size === 0n || ((size | iova | vaddr) & (pg - 1n)) !== 0n) {
      fail(op, "EINVAL", this.target, `size, iova and vaddr must be non-zero multiples of ${pg}`);
    }
    if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) fail(op, "EINVAL", this.target, "range wraps");
    const existing = this.findOverlap(iova, size);
    if (setVaddr) {
      if (!existing) fail(op, "ENOENT", this.target, "no mapping at that IOVA to give a new vaddr");
      if (!existing.vaddrInvalid || existing.iova !== iova || existing.size !== size) {
        fail(op, "EINVAL", this.target, "VADDR update needs exactly one mapping whose vaddr was invalidated");
      }
      if (!this.memory.pin(vaddr, size)) fail(op, "EFAULT", this.target, "vaddr not mapped in the process");
      existing.vaddr = vaddr;
      existing.vaddrInvalid = false;
      return;
    }
    if (existing) fail(op, "EEXIST", this.target, `overlaps the mapping at 0x${existing.iova.toString(16)}`);
    if (this.dmaAvail === 0) fail(op, "ENOSPC", this.target, `dma_entry_limit (${this.dmaEntryLimit}) reached`);
    if (!this.iovaValid(iova, iova + size - 1n)) fail(op, "EINVAL", this.target, "IOVA outside the valid ranges (see VFIO_IOMMU_GET_INFO)");
    const bytes = this.memory.pin(vaddr, size);
    if (!bytes) fail(op, "EFAULT", this.target, "vaddr range not mapped in the process");
    const dma: VfioDma = { iova, size, vaddr, read, write, vaddrInvalid: false };
    this.dmas.splice(this.indexAfter(iova), 0, dma);
    this.dmaAvail--;
    this.domain.map({ iova: Number(iova), size: Number(size), bytes, read, write });
  }

  /** VFIO_IOMMU_UNMAP_DMA: the number of bytes unmapped. */
  unmap(request: DmaUnmapRequest): bigint {
    const op = "VFIO_IOMMU_UNMAP_DMA";
    const mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_ALL;
    if (request.flags & ~mask) fail(op, "EINVAL", this.target, `unknown flags 0x${(request.flags & ~mask).toString(16)}`);
    if (request.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
      if (request.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) fail(op, "EINVAL", this.target, "GET_DIRTY_BITMAP with ALL or VADDR");
      // Dirty tracking is never started here, so the bitmap request is refused as the kernel does then.
      fail(op, "EINVAL", this.target, "dirty page tracking is not started");
    }
    const unmapAll = (request.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
    const invalidateVaddr = (request.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
    const iova = request.iova;
    let size = request.size;
    const pg = this.minPageSize;
    if (iova & (pg - 1n)) fail(op, "EINVAL", this.target, `iova not aligned to ${pg}`);
    if (unmapAll) {
      if (iova !== 0n || size !== 0n) fail(op, "EINVAL", this.target, "UNMAP_ALL needs iova 0 and size 0");
      size = U64_MAX;
    } else if (size === 0n || (size & (pg - 1n)) !== 0n || iova + size - 1n > U64_MAX) {
      fail(op, "EINVAL", this.target, `size must be a non-zero multiple of ${pg} that does not wrap`);
    }
    const end = iova + size; // exclusive; U64_MAX for unmap-all as in the kernel's arithmetic
    if (this.v2 && !unmapAll) {
      const first = this.findOverlap(iova, 1n);
      if (first && first.iova !== iova) fail(op, "EINVAL", this.target, `would split the mapping at 0x${first.iova.toString(16)}`);
      const last = this.findContaining(iova + size - 1n);
      if (last && last.iova + last.size !== iova + size) fail(op, "EINVAL", this.target, `would split the mapping at 0x${last.iova.toString(16)}`);
    }
    let unmapped = 0n;
    const startIndex = this.firstEndingAfter(iova);
    let i = startIndex;
    const removed: VfioDma[] = [];
    const invalidated: VfioDma[] = [];
    for (; i < this.dmas.length; i++) {
      const dma = this.dmas[i]!;
      if (dma.iova >= end) break;
      if (!this.v2 && iova > dma.iova) break;
      if (invalidateVaddr) {
        if (dma.vaddrInvalid) {
          for (const d of invalidated) d.vaddrInvalid = false;
          fail(op, "EINVAL", this.target, "a vaddr in the range is already invalid");
        }
        dma.vaddrInvalid = true;
        invalidated.push(dma);
        unmapped += dma.size;
        continue;
      }
      unmapped += dma.size;
      removed.push(dma);
    }
    if (removed.length) {
      // The removed mappings are contiguous in IOVA order: drop them in one step.
      this.dmas.splice(startIndex, removed.length);
      this.domain.unmapMany(removed.map((d) => Number(d.iova)));
      this.dmaAvail += removed.length;
    }
    return unmapped;
  }

  /** VFIO_IOMMU_GET_INFO with its capabilities in the kernel's order: migration, DMA available, IOVA ranges. */
  info(): IommuInfo {
    return {
      flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
      iovaPgsizes: this.pgsizeBitmap,
      migration: { flags: 0, pgsizeBitmap: this.minPageSize, maxDirtyBitmapSize: DIRTY_BITMAP_SIZE_MAX },
      dmaAvailable: this.dmaAvail,
      iovaRanges: this.iovaRanges,
    };
  }

  /** Drops every mapping (the container lost its last group: the driver is released). */
  release(): void {
    this.dmas.length = 0;
    this.domain.clear();
    this.dmaAvail = this.dmaEntryLimit;
  }

  private iovaValid(start: bigint, end: bigint): boolean {
    return this.iovaRanges.length === 0 || this.iovaRanges.some((r) => start >= r.start && end <= r.end);
  }

  /** Index of the first mapping that ends after `address` (vfio_find_dma_first_node), or length. */
  private firstEndingAfter(address: bigint): number {
    let lo = 0;
    let hi = this.dmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const d = this.dmas[mid]!;
      if (d.iova + d.size <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** vfio_find_dma(): a mapping overlapping [start, start + size). */
  private findOverlap(start: bigint, size: bigint): VfioDma | undefined {
    const d = this.dmas[this.firstEndingAfter(start)];
    return d && d.iova < start + size ? d : undefined;
  }

  /** A mapping containing `address` strictly after its first byte (vfio_find_dma(iommu, x, 0)). */
  private findContaining(address: bigint): VfioDma | undefined {
    const d = this.dmas[this.firstEndingAfter(address)];
    return d && address > d.iova ? d : undefined;
  }

  private indexAfter(iova: bigint): number {
    let lo = 0;
    let hi = this.dmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.dmas[mid]!.iova < iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The aperture minus the reserved ranges (vfio_iommu_resv_exclude), in order. */
export function subtractRanges(aperture: IovaRange, reserved: readonly IovaRange[]): IovaRange[] {
  let ranges: IovaRange[] = [aperture];
  for (const r of [...reserved].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    const out: IovaRange[] = [];
    for (const range of ranges) {
      if (r.end < range.start || r.start > range.end) {
        out.push(range);
        continue;
      }
      if (r.start > range.start) out.push({ start: range.start, end: r.start - 1n });
      if (r.end < range.end) out.push({ start: r.end + 1n, end: range.end });
    }
    ranges = out;
  }
  return ranges;
}
