/**
 * DMA-able process memory: a memfd mapped MAP_SHARED. Shared and fd-backed, so the same pages
 * serve VFIO_IOMMU_MAP_DMA (by vaddr) and vfio-user DMA_MAP (by fd), and a C program or a
 * second mapping can see what the device wrote, with no copy.
 */
import type { ProcessMemory } from "../api/vfio-system.js";
import { VfioSystemError } from "../api/errors.js";
import {
  MAP_SHARED, MFD_CLOEXEC, MFD_HUGETLB, MFD_HUGE_2MB, PROT_READ, PROT_WRITE, type Libc,
} from "./libc.js";
import { retireMapping } from "./retire-mapping.js";

/** x86-64 base page. */
export const PAGE_SIZE = 4096;
/** x86-64 PMD huge page, the size MFD_HUGE_2MB asks for. */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;

export interface AllocateOptions {
  /**
   * Back the memory with 2 MiB huge pages: fewer IOMMU entries and pins. Where the host has none
   * free (hugetlbfs pool empty), the allocation falls back to base pages rather than failing.
   */
  readonly hugepages?: boolean;
  /** The memfd's name, shown in /proc/<pid>/maps and fd links ("memfd:<name>"). */
  readonly name?: string;
}

/** A memfd mapping; `free()` unmaps and closes it once. */
export class MemfdMemory implements ProcessMemory {
  #fd: number;
  #freed = false;
  readonly #libc: Libc;
  #onFree: (() => void) | undefined;

  constructor(
    libc: Libc,
    fd: number,
    readonly vaddr: bigint,
    readonly size: number,
    readonly bytes: Uint8Array,
    /** Whether the pages are huge pages. */
    readonly hugepages: boolean,
    onFree?: () => void,
  ) {
    this.#libc = libc;
    this.#fd = fd;
    this.#onFree = onFree;
  }

  get fd(): number | undefined {
    return this.#freed ? undefined : this.#fd;
  }

  get freed(): boolean {
    return this.#freed;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    // A caller may still hold `bytes`: retire the mapping rather than leave a view that faults.
    retireMapping(this.#libc, this.vaddr, this.size, this.bytes.buffer);
    this.#libc.close(this.#fd);
    this.#fd = -1;
    const onFree = this.#onFree;
    this.#onFree = undefined;
    onFree?.();
  }
}

function roundUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/**
 * Allocates `size` bytes (rounded up to the page size, at least one page) of shared memory.
 * Throws VfioSystemError naming memfd_create, ftruncate (as memfd_create) or mmap on failure.
 */
export function allocateMemfd(libc: Libc, size: number, options: AllocateOptions = {}, onFree?: () => void): MemfdMemory {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`allocateMemory: size ${size} is not a byte count`);
  if (options.hugepages) {
    const huge = tryAllocate(libc, roundUp(Math.max(size, 1), HUGE_PAGE_SIZE), MFD_HUGETLB | MFD_HUGE_2MB, options.name, true, onFree);
    if (huge instanceof MemfdMemory) return huge;
  }
  const result = tryAllocate(libc, roundUp(Math.max(size, 1), PAGE_SIZE), 0, options.name, false, onFree);
  if (result instanceof MemfdMemory) return result;
  throw result;
}

function tryAllocate(libc: Libc, size: number, extraFlags: number, name = "vfio-ts-dma", huge: boolean, onFree?: () => void): MemfdMemory | VfioSystemError {
  const fd = libc.memfdCreate(name, MFD_CLOEXEC | extraFlags);
  if (fd < 0) return new VfioSystemError("memfd_create", -fd, "syscall", name);
  const truncated = libc.ftruncate(fd, BigInt(size));
  if (truncated < 0) {
    libc.close(fd);
    return new VfioSystemError("memfd_create", -truncated, "syscall", name, `ftruncate to ${size} bytes failed`);
  }
  const address = libc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (address < 0n) {
    libc.close(fd);
    // With MFD_HUGETLB an empty hugetlb pool shows up here as ENOMEM.
    return new VfioSystemError("mmap", Number(-address), "syscall", name, huge ? "no free huge pages (see /proc/meminfo HugePages_Free)" : undefined);
  }
  return new MemfdMemory(libc, fd, address, size, libc.view(address, size), huge, onFree);
}
