/**
 * Unmapping memory that JavaScript may still hold a view of.
 *
 * A view made by koffi.view() over mmap'd memory cannot be detached (measured: structuredClone and
 * transfer copy silently), and touching it after munmap(2) is a SIGSEGV that kills the process.
 * So where a view may outlive the mapping, the mapping is not simply unmapped: an anonymous
 * private mapping replaces it at the same address in one mmap(MAP_FIXED) call, which drops the
 * device's or memfd's pages at once (mmap(2): "any existing mapping ... is removed") and
 * leaves harmless zero-fill memory behind the stale view. The placeholder itself is unmapped
 * when the garbage collector has reclaimed the view's ArrayBuffer.
 */
import { MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Libc } from "./libc.js";

interface Placeholder {
  readonly libc: Libc;
  readonly address: bigint;
  readonly size: number;
}

let live = 0;

const placeholders = new FinalizationRegistry<Placeholder>(({ libc, address, size }) => {
  libc.munmap(address, size);
  live--;
});

/** Placeholders whose views have not yet been garbage-collected (a leak test reads it after GC). */
export function placeholderCount(): number {
  return live;
}

/**
 * Unmaps `size` bytes at `address`, whose memory `buffer` (a koffi view) may still be
 * referenced. Returns 0, or -errno of a failed munmap.
 */
export function retireMapping(libc: Libc, address: bigint, size: number, buffer: ArrayBufferLike | undefined): number {
  if (buffer === undefined) return libc.munmap(address, size);
  const replaced = libc.mmapAt(address, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0n);
  // Should the replacement fail, unmap plainly: a stale view then faults, as it would without us.
  if (replaced < 0n) return libc.munmap(address, size);
  live++;
  placeholders.register(buffer, { libc, address, size });
  return 0;
}
