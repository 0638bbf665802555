/**
 * /proc/self/pagemap entries (Documentation/admin-guide/mm/pagemap.rst): one 64-bit entry per
 * virtual page; bit 63 "page present", bits 0-54 the page frame number. Since Linux 4.2 the
 * PFN reads as zero without CAP_SYS_ADMIN (fs/proc/task_mmu.c pagemap_read: show_pfn), so a
 * present page with PFN 0 means "not allowed to see", never "frame 0".
 */
import { VfioError } from "../api/errors.js";

const PRESENT = 1n << 63n;
const PFN_MASK = (1n << 55n) - 1n;

/** The physical address of each page, or a VfioError (EPERM without CAP_SYS_ADMIN, EFAULT for a page not present). */
export function physicalAddresses(entries: BigUint64Array, pageSize: number): bigint[] {
  const out: bigint[] = [];
  for (const [i, entry] of entries.entries()) {
    if ((entry & PRESENT) === 0n) throw new VfioError(`pagemap: page ${i} of the buffer is not present in RAM (it should have been locked)`, "EFAULT");
    const pfn = entry & PFN_MASK;
    if (pfn === 0n) {
      throw new VfioError(
        "UIO DMA needs the buffer's physical addresses, and /proc/self/pagemap shows page frame numbers only to a process with CAP_SYS_ADMIN: run as root (the device would then reach memory by physical address, with no IOMMU in the way)",
        "EPERM",
      );
    }
    out.push(pfn * BigInt(pageSize));
  }
  return out;
}

/** True when the pages follow one another in physical memory. */
export function contiguous(addresses: readonly bigint[], pageSize: number): boolean {
  return addresses.every((a, i) => i === 0 || a === addresses[i - 1]! + BigInt(pageSize));
}
