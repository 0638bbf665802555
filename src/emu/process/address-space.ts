/**
 * The emulated process's memory: page-aligned allocations at virtual addresses, so that
 * VFIO_IOMMU_MAP_DMA gets a vaddr to pin exactly as on Linux. Each allocation is its own
 * mapping with an unmapped guard page after it, so a range that runs past an allocation meets
 * a hole, and pinning it fails with EFAULT as pin_user_pages does (vaddr_get_pfns).
 */
import type { ProcessMemory } from "../../api/vfio-system.js";

interface Vma {
  readonly start: bigint;
  readonly end: bigint;
  readonly bytes: Uint8Array;
}

export class ProcessAddressSpace {
  private readonly vmas: Vma[] = [];
  private next: bigint;

  /** Allocations start at `base` (where mmap places anonymous memory on x86-64 Linux, roughly). */
  constructor(readonly pageSize = 4096, base = 0x7f00_0000_0000n) {
    this.next = base;
  }

  /** An anonymous shared mapping of at least `size` bytes, page aligned. */
  allocate(size: number): ProcessMemory {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`allocate: size ${size} is not a positive integer`);
    const length = Math.ceil(size / this.pageSize) * this.pageSize;
    const start = this.next;
    const vma: Vma = { start, end: start + BigInt(length), bytes: new Uint8Array(length) };
    this.next = vma.end + BigInt(this.pageSize); // guard page
    this.vmas.push(vma);
    let freed = false;
    return {
      vaddr: start,
      size: length,
      bytes: vma.bytes,
      fd: undefined,
      free: () => {
        if (freed) return;
        freed = true;
        const i = this.vmas.indexOf(vma);
        if (i >= 0) this.vmas.splice(i, 1);
      },
    };
  }

  /**
   * Pins [vaddr, vaddr + size): the memory behind it, or undefined when any page of it is not
   * mapped (the kernel answers EFAULT). Pinned memory stays valid for the IOMMU even after the
   * process unmaps it, as pinned pages do.
   */
  pin(vaddr: bigint, size: bigint): Uint8Array | undefined {
    const vma = this.vmas.find((v) => vaddr >= v.start && vaddr < v.end);
    if (!vma || vaddr + size > vma.end) return undefined;
    const from = Number(vaddr - vma.start);
    return vma.bytes.subarray(from, from + Number(size));
  }
}
