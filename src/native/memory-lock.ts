/**
 * mlock(2)/munlock(2): keep pages resident, so that a device given their physical addresses
 * (UIO, with no IOMMU) keeps finding the same frames. mlock also faults every page in
 * (mm/mlock.c populates the range), so /proc/self/pagemap shows each one present afterwards.
 * Locked pages are not swapped, but the kernel may still migrate them (compaction with
 * vm.compact_unevictable_allowed=1, the default); hugetlb pages are not migrated that way.
 */
import { koffi, libcLibrary } from "./ffi.js";

export interface MemoryLock {
  /** mlock(2): 0 or -errno. */
  mlock(address: bigint, length: number): number;
  /** munlock(2): 0 or -errno. */
  munlock(address: bigint, length: number): number;
}

let loaded: MemoryLock | undefined;

/** The C library's mlock/munlock, loaded on first call. */
export function loadMemoryLock(): MemoryLock {
  if (loaded) return loaded;
  const lib = libcLibrary();
  const mlock = lib.func("int mlock(uintptr_t addr, size_t len)");
  const munlock = lib.func("int munlock(uintptr_t addr, size_t len)");
  const k = koffi();
  loaded = {
    mlock: (address, length) => ((mlock(address, length) as number) < 0 ? -k.errno() : 0),
    munlock: (address, length) => ((munlock(address, length) as number) < 0 ? -k.errno() : 0),
  };
  return loaded;
}
