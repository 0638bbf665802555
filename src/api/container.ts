/**
 * Containers and groups: the kernel's and the emulated machine's (vfio-user has no groups).
 * Methods mirror the uapi ioctls one to one, so that the conformance suite can drive every
 * misuse and compare errnos between the emulated machine and Linux.
 */
import type { VfioDevice } from "./device.js";

/** struct vfio_iommu_type1_dma_map, with the process virtual address the mapping pins. */
export interface DmaMapRequest {
  /** VFIO_DMA_MAP_FLAG_*. */
  readonly flags: number;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

/** struct vfio_iommu_type1_dma_unmap (without the dirty bitmap). */
export interface DmaUnmapRequest {
  /** VFIO_DMA_UNMAP_FLAG_*. */
  readonly flags: number;
  readonly iova: bigint;
  readonly size: bigint;
}

export interface IovaRange {
  readonly start: bigint;
  /** Inclusive, as in struct vfio_iova_range. */
  readonly end: bigint;
}

/** VFIO_IOMMU_GET_INFO for type1, with its capability chain decoded. */
export interface IommuInfo {
  readonly flags: number;
  /** Bitmap of supported page sizes. */
  readonly iovaPgsizes: bigint;
  /** VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, where present. */
  readonly iovaRanges?: readonly IovaRange[];
  /** VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: mappings still available. */
  readonly dmaAvailable?: number;
  /** VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, where present. */
  readonly migration?: { readonly flags: number; readonly pgsizeBitmap: bigint; readonly maxDirtyBitmapSize: bigint };
}

/** /dev/vfio/vfio. */
export interface Container extends AsyncDisposable {
  /** VFIO_GET_API_VERSION. */
  apiVersion(): Promise<number>;
  /** VFIO_CHECK_EXTENSION: >0 when supported. */
  checkExtension(extension: number): Promise<number>;
  /** VFIO_SET_IOMMU (VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU). */
  setIommu(type: number): Promise<void>;
  /** VFIO_IOMMU_GET_INFO. */
  iommuInfo(): Promise<IommuInfo>;
  /** VFIO_IOMMU_MAP_DMA. */
  mapDma(request: DmaMapRequest): Promise<void>;
  /** VFIO_IOMMU_UNMAP_DMA: resolves with the size actually unmapped. */
  unmapDma(request: DmaUnmapRequest): Promise<bigint>;
  /** Closes devices, then groups, then the container (the kernel answers EBUSY otherwise). Idempotent. */
  close(): Promise<void>;
}

/** /dev/vfio/N. */
export interface Group extends AsyncDisposable {
  readonly id: number;
  /** VFIO_GROUP_GET_STATUS: VFIO_GROUP_FLAGS_*. */
  status(): Promise<number>;
  /** VFIO_GROUP_SET_CONTAINER. */
  setContainer(container: Container): Promise<void>;
  /** VFIO_GROUP_UNSET_CONTAINER. */
  unsetContainer(): Promise<void>;
  /** VFIO_GROUP_GET_DEVICE_FD. */
  openDevice(name: string): Promise<VfioDevice>;
  /** Idempotent. */
  close(): Promise<void>;
}
