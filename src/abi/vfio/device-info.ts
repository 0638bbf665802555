/**
 * `struct vfio_device_info`, include/uapi/linux/vfio.h (VFIO_DEVICE_GET_INFO).
 * `cap_offset` was added in Linux 4.19 (device info capabilities, s390 zPCI first); a kernel
 * that does not know it leaves it zero, which reads as "no capability chain".
 */
import { struct, u32, type Infer } from "../struct.js";

/** `struct vfio_device_info`: 20 bytes. */
export const deviceInfoLayout = struct("vfio_device_info", {
  argsz: u32,
  flags: u32,
  numRegions: u32,
  numIrqs: u32,
  capOffset: u32,
});
export type DeviceInfoWire = Infer<typeof deviceInfoLayout>;
