/**
 * DMA memory without an IOMMU: the device addresses memory by physical address, so a buffer's
 * IOVA *is* its physical address, read from /proc/self/pagemap (DPDK's rte_mem_virt2phy does
 * the same). Pages are locked (mlock, or hugetlb) so they stay resident; a buffer of more than
 * one page must be physically contiguous, which only huge pages give reliably (2 MiB each), so
 * multi-page buffers use them and fail with a hint where the host has none.
 *
 * What this cannot do, and VFIO can: choose the IOVA, keep the device from writing outside the
 * buffer, or make a buffer read-only for the device. Asking for any of those fails.
 */
import type { DmaAllocateOptions, DmaBuffer, DmaSpace } from "../api/dma-space.js";
import type { PinnedMemory, UioSystem } from "../api/uio-system.js";
import { VfioError, VfioUsageError } from "../api/errors.js";
import { contiguous, physicalAddresses } from "./pagemap.js";

export interface UioDmaSpaceOptions {
  /** Back every buffer with huge pages where the host has them (default: only buffers over a page). */
  readonly hugepages?: boolean;
  /** Allocations tried before giving up on a buffer below the DMA limit (default 64). */
  readonly attempts?: number;
}

/** A pinned buffer and the physical address the device uses for it. */
export class UioDmaBuffer implements DmaBuffer {
  #freed = false;
  constructor(private readonly memory: PinnedMemory, readonly iova: bigint, private readonly onFree: () => void) {}
  get size(): number {
    return this.memory.size;
  }
  get bytes(): Uint8Array {
    return this.memory.bytes;
  }
  get hugepages(): boolean {
    return this.memory.hugepages;
  }
  async free(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    this.memory.free();
    this.onFree();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.free();
  }
}

export class UioDmaSpace implements DmaSpace {
  readonly #buffers = new Set<UioDmaBuffer>();
  #closed = false;

  constructor(private readonly system: UioSystem, private readonly options: UioDmaSpaceOptions = {}) {}

  /** Buffers allocated and not yet freed. */
  get buffers(): readonly UioDmaBuffer[] {
    return [...this.#buffers];
  }

  /**
   * Pinned memory whose physical address range lies below `options.limit`. Pages above the
   * limit are set aside and another allocation tried (they are freed at the end), since the
   * kernel gives userspace no way to ask for low physical memory.
   */
  async allocate(size: number, options: DmaAllocateOptions = {}): Promise<DmaBuffer> {
    if (this.#closed) throw new VfioUsageError("the UIO DMA space is closed", "ECLOSED");
    if (options.iova !== undefined) {
      throw new VfioError("UIO has no IOMMU to place memory at a chosen bus address: a buffer's IOVA is its physical address", "EINVAL");
    }
    if (options.read === false || options.write === false) {
      throw new VfioError("UIO has no IOMMU to restrict the device: it can read and write every buffer (and all other memory)", "EINVAL");
    }
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`allocate: size ${size} is not a positive byte count`);
    const pageSize = this.system.pageSize;
    const multiPage = size > pageSize;
    const limit = options.limit;
    const attempts = this.options.attempts ?? 64;
    const setAside: PinnedMemory[] = [];
    try {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const memory = this.system.allocatePinned(size, { hugepages: multiPage || (this.options.hugepages ?? false) });
        let addresses: bigint[];
        try {
          addresses = physicalAddresses(this.system.readPagemap(memory.vaddr, memory.size / pageSize), pageSize);
        } catch (error) {
          memory.free();
          throw error;
        }
        if (!contiguous(addresses, pageSize)) {
          memory.free();
          throw new VfioError(
            `a ${size}-byte UIO DMA buffer must be physically contiguous and these ${addresses.length} pages are not: reserve huge pages (echo 8 > /proc/sys/vm/nr_hugepages) or allocate page-sized buffers`,
            "ENOMEM",
          );
        }
        const start = addresses[0]!;
        if (limit === undefined || start + BigInt(memory.size) <= limit) {
          const buffer = new UioDmaBuffer(memory, start, () => this.#buffers.delete(buffer));
          this.#buffers.add(buffer);
          return buffer;
        }
        setAside.push(memory);
      }
      throw new VfioError(
        `no pinned memory below the device's DMA limit 0x${limit!.toString(16)} after ${attempts} allocations: with no IOMMU to remap it, the device cannot reach memory above its DMA mask`,
        "ENOMEM",
      );
    } finally {
      for (const memory of setAside) memory.free();
    }
  }

  /** Frees every buffer. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const buffer of [...this.#buffers]) await buffer.free();
  }
}

/** The plain userspace driver's DMA space: there is none. */
export class NoDmaSpace implements DmaSpace {
  async allocate(): Promise<DmaBuffer> {
    throw new VfioError("the plain userspace driver has no DMA: open the device on UIO (mode \"uio\") or, safely, on VFIO", "ENOTSUP");
  }
}
