/**
 * What a process sees of the two ways before VFIO on one machine: a PCI function's sysfs files
 * (`config`, `resourceN`, `resourceN_wc`), the UIO character device `/dev/uioN` that
 * uio_pci_generic creates (drivers/uio/uio.c, drivers/uio/uio_pci_generic.c), and its own
 * memory with the physical addresses /proc/self/pagemap reveals
 * (Documentation/admin-guide/mm/pagemap.rst). Implemented by uio/ on real Linux and by emu/ on
 * the emulated machine, so the UIO backend (uio/) runs unchanged on both.
 *
 * Nothing here is protected by an IOMMU: whoever uses it can make a device write anywhere in
 * memory. uio/ demands an explicit opt-in before it touches any of it.
 */
import type { RegionMapping } from "./device.js";
import type { EventNotifier } from "./event-notifier.js";
import type { Sysfs } from "./sysfs.js";
import type { ProcessMemory } from "./vfio-system.js";

/** An open sysfs `config` file: pread/pwrite at config-space offsets. */
export interface ConfigFile {
  /** pread: as many bytes as the file has at `offset` (fewer at its end, none past it). */
  read(offset: number, length: number): Uint8Array;
  /** pwrite: the number of bytes written. */
  write(offset: number, data: Uint8Array): number;
  /** Idempotent. */
  close(): void;
}

/**
 * An open `/dev/uioN`, read on the event loop: each read returns the 4-byte count of interrupts
 * since the device was registered (uio_read), and the fd polls readable while that count is
 * ahead of what this file last read.
 */
export interface UioEventFile {
  /** Calls `listener` with the new total count whenever it advances; replaces any earlier listener. */
  listen(listener: (total: number) => void): void;
  /** Stops watching (the file stays open; counts keep accumulating in the kernel). */
  stop(): void;
  /** Stops and closes. Idempotent. */
  close(): void;
}

/** Pinned process memory whose pages have fixed physical addresses while it is held. */
export interface PinnedMemory extends ProcessMemory {
  /** Backed by huge pages (2 MiB: physically contiguous within each). */
  readonly hugepages: boolean;
}

export interface UioSystem {
  /** "Linux 6.1.0-…" or "emulated machine". */
  readonly description: string;
  readonly sysfs: Sysfs;
  /** The base page size (pagemap has one entry per base page). */
  readonly pageSize: number;
  /** open("/sys/bus/pci/devices/<name>/config", O_RDWR). */
  openConfig(name: string): ConfigFile;
  /**
   * mmap of `size` bytes at page-aligned `offset` of `/sys/bus/pci/devices/<name>/resource<index>`
   * (or `resource<index>_wc`), shared and read-write (pci_mmap_resource_uc / _wc,
   * drivers/pci/pci-sysfs.c). The mapping's `index` is the BAR index.
   */
  mapResource(name: string, index: number, offset: bigint, size: number, writeCombine: boolean): RegionMapping;
  /** open("/dev/uio<n>", O_RDWR | O_NONBLOCK). */
  openUio(n: number): UioEventFile;
  /** Page-aligned memory, locked in RAM (mlock, or hugetlb pages, which are never swapped). */
  allocatePinned(size: number, options?: { readonly hugepages?: boolean }): PinnedMemory;
  /** `count` raw 64-bit entries of /proc/self/pagemap from the page at `vaddr`. */
  readPagemap(vaddr: bigint, count: number): BigUint64Array;
  /** An eventfd (Linux) or an in-process notifier (emulated). */
  createNotifier(): EventNotifier;
}
