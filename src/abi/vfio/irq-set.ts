/**
 * `struct vfio_irq_set`, include/uapi/linux/vfio.h (VFIO_DEVICE_SET_IRQS). The fixed part only:
 * `__u8 data[]` follows at offset 20 (bools as u8, eventfds as __s32); ../irq-set.ts encodes it.
 */
import { struct, u32, type Infer } from "../struct.js";

/** `struct vfio_irq_set` without `data[]`: 20 bytes. */
export const irqSetLayout = struct("vfio_irq_set", { argsz: u32, flags: u32, index: u32, start: u32, count: u32 });
export type IrqSetWire = Infer<typeof irqSetLayout>;
