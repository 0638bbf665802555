/**
 * `struct vfio_group_status`, include/uapi/linux/vfio.h (VFIO_GROUP_GET_STATUS).
 * flags: VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET.
 */
import { struct, u32, type Infer } from "../struct.js";

/** `struct vfio_group_status`: 8 bytes. */
export const groupStatusLayout = struct("vfio_group_status", { argsz: u32, flags: u32 });
export type GroupStatusWire = Infer<typeof groupStatusLayout>;
