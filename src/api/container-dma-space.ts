/**
 * A DmaSpace over any VfioSystem + Container (kernel or emulated): process memory from the
 * system, an IOVA from an allocator that honours the container's usable IOVA ranges and the
 * device's DMA limit, and VFIO_IOMMU_MAP_DMA to join them. Freeing reverses the three steps:
 * unmap from the IOMMU first, so the device can no longer reach pages about to be released.
 */
import type { Container, IovaRange } from "./container.js";
import {
  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IOMMU_INFO_PGSIZES,
} from "./constants.js";
import type { DmaAllocateOptions, DmaBuffer, DmaSpace } from "./dma-space.js";
import { VfioError } from "./errors.js";
import { IovaAllocator } from "./iova-allocator.js";
import type { ProcessMemory, VfioSystem } from "./vfio-system.js";

export interface ContainerDmaSpaceOptions {
  /** The device's DMA limit, for every buffer of this space (1n << 28n for a 28-bit mask). */
  readonly limit?: bigint;
  /**
   * Huge pages: "auto" (default) uses them for buffers of 2 MiB or more where the host has them;
   * true asks for them always; false never.
   */
  readonly hugepages?: boolean | "auto";
}

const HUGE_PAGE = 2 * 1024 * 1024;

/** A DmaSpace whose buffers are mapped in one container. `close()` frees every buffer. */
export class ContainerDmaSpace implements DmaSpace, AsyncDisposable {
  readonly #system: VfioSystem;
  readonly #container: Container;
  readonly #options: ContainerDmaSpaceOptions;
  #allocator: Promise<IovaAllocator> | undefined;
  readonly #buffers = new Set<ContainerDmaBuffer>();
  #closed = false;

  constructor(system: VfioSystem, container: Container, options: ContainerDmaSpaceOptions = {}) {
    this.#system = system;
    this.#container = container;
    this.#options = options;
  }

  /** Buffers currently allocated. */
  get buffers(): number {
    return this.#buffers.size;
  }

  async allocate(size: number, options: DmaAllocateOptions = {}): Promise<DmaBuffer> {
    if (this.#closed) throw new VfioError("DMA allocate failed: EBADF: the DMA space is closed", "EBADF");
    const allocator = await this.#iovaAllocator();
    const wantHuge = this.#options.hugepages ?? "auto";
    const memory = this.#system.allocateMemory(size, { hugepages: wantHuge === "auto" ? size >= HUGE_PAGE : wantHuge });
    let iova: bigint;
    try {
      const limits = [this.#options.limit, options.limit].filter((l): l is bigint => l !== undefined);
      const limit = limits.length > 0 ? limits.reduce((a, b) => (a < b ? a : b)) : undefined;
      iova = allocator.allocate(BigInt(memory.size), {
        ...(limit !== undefined ? { limit } : {}),
        ...(options.iova !== undefined ? { iova: options.iova } : {}),
        // Huge-page-backed buffers at huge-page-aligned IOVAs let the IOMMU use 2 MiB entries.
        ...(memory.size >= HUGE_PAGE && memory.size % HUGE_PAGE === 0 ? { align: BigInt(HUGE_PAGE) } : {}),
      });
    } catch (error) {
      memory.free();
      throw error;
    }
    const flags = (options.read === false ? 0 : VFIO_DMA_MAP_FLAG_READ) | (options.write === false ? 0 : VFIO_DMA_MAP_FLAG_WRITE);
    try {
      await this.#container.mapDma({ flags, vaddr: memory.vaddr, iova, size: BigInt(memory.size) });
    } catch (error) {
      allocator.release(iova);
      memory.free();
      throw error;
    }
    const buffer = new ContainerDmaBuffer(iova, memory, async () => {
      this.#buffers.delete(buffer);
      try {
        await this.#container.unmapDma({ flags: 0, iova, size: BigInt(memory.size) });
      } finally {
        allocator.release(iova);
        memory.free();
      }
    });
    this.#buffers.add(buffer);
    return buffer;
  }

  /** Frees every buffer (unmapping each). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const buffer of [...this.#buffers].reverse()) {
      try {
        await buffer.free();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "freeing DMA buffers failed");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #iovaAllocator(): Promise<IovaAllocator> {
    this.#allocator ??= (async () => {
      const info = await this.#container.iommuInfo();
      const ranges: readonly IovaRange[] = info.iovaRanges ?? [{ start: 0n, end: (1n << 64n) - 1n }];
      const pgsizes = (info.flags & VFIO_IOMMU_INFO_PGSIZES) !== 0 && info.iovaPgsizes !== 0n ? info.iovaPgsizes : BigInt(this.#system.pageSize);
      // The smallest supported IOMMU page: the lowest set bit of the bitmap.
      const pageSize = pgsizes & -pgsizes;
      return new IovaAllocator(ranges, pageSize > BigInt(this.#system.pageSize) ? pageSize : BigInt(this.#system.pageSize));
    })();
    // A failed query (e.g. no IOMMU set yet) is not cached: the caller may fix it and retry.
    this.#allocator.catch(() => {
      this.#allocator = undefined;
    });
    return this.#allocator;
  }
}

class ContainerDmaBuffer implements DmaBuffer {
  #free: (() => Promise<void>) | undefined;
  #freeing: Promise<void> | undefined;

  constructor(
    readonly iova: bigint,
    readonly memory: ProcessMemory,
    free: () => Promise<void>,
  ) {
    this.#free = free;
  }

  get size(): number {
    return this.memory.size;
  }

  get bytes(): Uint8Array {
    return this.memory.bytes;
  }

  free(): Promise<void> {
    if (this.#freeing) return this.#freeing;
    const free = this.#free!;
    this.#free = undefined;
    this.#freeing = free();
    return this.#freeing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.free();
  }
}
