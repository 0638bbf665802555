/**
 * What a device says about itself: plain readonly data, the same whichever backend answered.
 * Field names follow include/uapi/linux/vfio.h; 64-bit values are bigint, never number.
 */

/** struct vfio_device_info. */
export interface DeviceInfo {
  readonly flags: number;
  readonly numRegions: number;
  readonly numIrqs: number;
}

/** One mmap-able window of a region (VFIO_REGION_INFO_CAP_SPARSE_MMAP), offsets within the region. */
export interface SparseMmapArea {
  readonly offset: bigint;
  readonly size: bigint;
}

/** A region capability, decoded; an unknown id keeps its raw bytes. */
export type RegionCap =
  | { readonly id: 1; readonly kind: "sparse-mmap"; readonly version: number; readonly areas: readonly SparseMmapArea[] }
  | { readonly id: 2; readonly kind: "type"; readonly version: number; readonly type: number; readonly subtype: number }
  | { readonly id: 3; readonly kind: "msix-mappable"; readonly version: number }
  | { readonly id: number; readonly kind: "unknown"; readonly version: number; readonly bytes: Uint8Array };

/** struct vfio_region_info plus its decoded capability chain. */
export interface RegionInfo {
  readonly index: number;
  readonly flags: number;
  readonly size: bigint;
  /** The region's offset in the device fd (kernel) or its mmap offset (vfio-user). */
  readonly offset: bigint;
  readonly caps: readonly RegionCap[];
}

/** struct vfio_irq_info. */
export interface IrqInfo {
  readonly index: number;
  readonly flags: number;
  readonly count: number;
}
