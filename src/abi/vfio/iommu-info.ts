/**
 * `struct vfio_iommu_type1_info`, include/uapi/linux/vfio.h (VFIO_IOMMU_GET_INFO). A capability
 * chain (info-cap.ts: IOVA ranges, migration, DMA available) follows when flags has
 * VFIO_IOMMU_INFO_CAPS. `cap_offset` arrived in Linux 5.4; the struct is 24 bytes since, padded
 * after `cap_offset` to the alignment of `iova_pgsizes`.
 */
import { struct, u32, u64, type Infer } from "../struct.js";

/** `struct vfio_iommu_type1_info`: 24 bytes. */
export const iommuInfoLayout = struct("vfio_iommu_type1_info", {
  argsz: u32,
  flags: u32,
  iovaPgsizes: u64,
  capOffset: u32,
});
export type IommuInfoWire = Infer<typeof iommuInfoLayout>;
