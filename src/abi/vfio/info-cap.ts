/**
 * Capability chains, include/uapi/linux/vfio.h "struct vfio_info_cap_header": every INFO ioctl
 * that has caps (region info, IOMMU info) appends headers after its struct, each `next` an
 * offset from the start of the INFO buffer, 0 ending the chain. The cap structs embed the header
 * as their first member; the layouts flatten it (id, version, next) and name the C members
 * "header.id" etc. so the header check still finds them.
 */
import { struct, u16, u32, u64, type Infer } from "../struct.js";

const header = { id: u16, version: u16, next: u32 } as const;
const headerC = { id: "header.id", version: "header.version", next: "header.next" } as const;

/** `struct vfio_info_cap_header`: 8 bytes. */
export const infoCapHeaderLayout = struct("vfio_info_cap_header", header);
export type InfoCapHeaderWire = Infer<typeof infoCapHeaderLayout>;

/** `struct vfio_region_sparse_mmap_area`: 16 bytes, offsets within the region. */
export const sparseMmapAreaLayout = struct("vfio_region_sparse_mmap_area", { offset: u64, size: u64 });
export type SparseMmapAreaWire = Infer<typeof sparseMmapAreaLayout>;

/** `struct vfio_region_info_cap_sparse_mmap` (id 1, version 1) without `areas[]`: 16 bytes. */
export const sparseMmapCapLayout = struct(
  "vfio_region_info_cap_sparse_mmap",
  { ...header, nrAreas: u32, reserved: u32 },
  { cNames: headerC },
);
export type SparseMmapCapWire = Infer<typeof sparseMmapCapLayout>;

/** `struct vfio_region_info_cap_type` (id 2, version 1): 16 bytes. */
export const regionTypeCapLayout = struct(
  "vfio_region_info_cap_type",
  { ...header, type: u32, subtype: u32 },
  { cNames: headerC },
);
export type RegionTypeCapWire = Infer<typeof regionTypeCapLayout>;

/**
 * VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (id 3) has no body: the header alone says the MSI-X table
 * BAR may be mmapped whole (Linux 4.16+). It is read and written with infoCapHeaderLayout.
 */

/** `struct vfio_iova_range`: 16 bytes, `end` inclusive. */
export const iovaRangeLayout = struct("vfio_iova_range", { start: u64, end: u64 });
export type IovaRangeWire = Infer<typeof iovaRangeLayout>;

/** `struct vfio_iommu_type1_info_cap_iova_range` (id 1, version 1) without `iova_ranges[]`: 16 bytes. */
export const iovaRangeCapLayout = struct(
  "vfio_iommu_type1_info_cap_iova_range",
  { ...header, nrIovas: u32, reserved: u32 },
  { cNames: headerC },
);
export type IovaRangeCapWire = Infer<typeof iovaRangeCapLayout>;

/** `struct vfio_iommu_type1_info_cap_migration` (id 2, version 1): 32 bytes. */
export const migrationCapLayout = struct(
  "vfio_iommu_type1_info_cap_migration",
  { ...header, flags: u32, pgsizeBitmap: u64, maxDirtyBitmapSize: u64 },
  { cNames: headerC },
);
export type MigrationCapWire = Infer<typeof migrationCapLayout>;

/** `struct vfio_iommu_type1_info_dma_avail` (id 3, version 1): 12 bytes. */
export const dmaAvailCapLayout = struct(
  "vfio_iommu_type1_info_dma_avail",
  { ...header, avail: u32 },
  { cNames: headerC },
);
export type DmaAvailCapWire = Infer<typeof dmaAvailCapLayout>;
