/**
 * DMA memory as a driver sees it: buffers the device can reach at an IOVA. Each backend
 * implements it its own way (kernel: memfd + VFIO_IOMMU_MAP_DMA; vfio-user: memfd sent with
 * DMA_MAP; emulated: process memory mapped in its IOMMU), so a driver runs on all of them.
 */

export interface DmaAllocateOptions {
  /** Highest IOVA the device can address plus one (a 28-bit DMA mask is 1n << 28n). */
  readonly limit?: bigint;
  /** A fixed IOVA instead of one chosen by the allocator. */
  readonly iova?: bigint;
  /** Device may read (default true). */
  readonly read?: boolean;
  /** Device may write (default true). */
  readonly write?: boolean;
}

/** A buffer mapped for DMA. `bytes` is the memory itself: no copy either way. */
export interface DmaBuffer extends AsyncDisposable {
  readonly iova: bigint;
  readonly size: number;
  readonly bytes: Uint8Array;
  /** Unmaps it from the device, then frees the memory. Idempotent. */
  free(): Promise<void>;
}

export interface DmaSpace {
  /** Allocates `size` bytes (rounded up to the page size) and maps them for the device. */
  allocate(size: number, options?: DmaAllocateOptions): Promise<DmaBuffer>;
}
