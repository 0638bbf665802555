/**
 * `struct vfio_region_info`, include/uapi/linux/vfio.h (VFIO_DEVICE_GET_REGION_INFO).
 * A capability chain (info-cap.ts) may follow it when flags has VFIO_REGION_INFO_FLAG_CAPS.
 */
import { struct, u32, u64, type Infer } from "../struct.js";

/** `struct vfio_region_info`: 32 bytes. */
export const regionInfoLayout = struct("vfio_region_info", {
  argsz: u32,
  flags: u32,
  index: u32,
  capOffset: u32,
  size: u64,
  offset: u64,
});
export type RegionInfoWire = Infer<typeof regionInfoLayout>;
