/**
 * What a process sees of VFIO on one machine: /dev/vfio (containers and groups), its own
 * memory to map for DMA, eventfds, and sysfs. Implemented by kernel/ (real Linux) and emu/
 * (the emulated machine), so that host tooling, drivers and the conformance suite run
 * unchanged on both.
 */
import type { Container, Group } from "./container.js";
import type { EventNotifier } from "./event-notifier.js";
import type { Sysfs } from "./sysfs.js";

/** Process memory that can be mapped for DMA: a vaddr the IOMMU can pin, and the bytes behind it. */
export interface ProcessMemory {
  /** The process virtual address (VFIO_IOMMU_MAP_DMA's vaddr). */
  readonly vaddr: bigint;
  readonly size: number;
  /** The memory itself, zero-copy. */
  readonly bytes: Uint8Array;
  /** A memfd backing it, where there is one (vfio-user passes it to the server). */
  readonly fd: number | undefined;
  /** Unmaps the memory. Idempotent. Unmap it from every container first. */
  free(): void;
}

export interface VfioSystem {
  /** "Linux 6.1.0-…" or "emulated machine". */
  readonly description: string;
  readonly sysfs: Sysfs;
  /** open("/dev/vfio/vfio"). */
  openContainer(): Promise<Container>;
  /**
   * open("/dev/vfio/<id>"), or with `noiommu` open("/dev/vfio/noiommu-<id>"), the node of one
   * of VFIO's fake no-IOMMU groups (open-noiommu-device.ts). Rejects with ENOENT when there is
   * no such group.
   */
  openGroup(id: number, options?: { readonly noiommu?: boolean }): Promise<Group>;
  /** Page-aligned shared memory of at least `size` bytes (hugepages where asked and available). */
  allocateMemory(size: number, options?: { readonly hugepages?: boolean }): ProcessMemory;
  /** An eventfd (kernel) or an in-process notifier (emulated). */
  createNotifier(): EventNotifier;
  /** The page size the IOMMU and the process use (4096 on x86-64). */
  readonly pageSize: number;
}
