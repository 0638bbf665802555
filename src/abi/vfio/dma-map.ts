/**
 * Type1 DMA map and unmap, include/uapi/linux/vfio.h (VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA).
 */
import { struct, u32, u64, type Infer } from "../struct.js";

/** `struct vfio_iommu_type1_dma_map`: 32 bytes. */
export const dmaMapLayout = struct("vfio_iommu_type1_dma_map", {
  argsz: u32,
  flags: u32,
  vaddr: u64,
  iova: u64,
  size: u64,
});
export type DmaMapWire = Infer<typeof dmaMapLayout>;

/**
 * `struct vfio_iommu_type1_dma_unmap` without `data[]` (a `struct vfio_bitmap` only with
 * VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, which vfio-ts does not use): 24 bytes. The kernel
 * writes the size actually unmapped back into `size`.
 */
export const dmaUnmapLayout = struct("vfio_iommu_type1_dma_unmap", {
  argsz: u32,
  flags: u32,
  iova: u64,
  size: u64,
});
export type DmaUnmapWire = Infer<typeof dmaUnmapLayout>;
