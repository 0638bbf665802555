/** `struct vfio_irq_info`, include/uapi/linux/vfio.h (VFIO_DEVICE_GET_IRQ_INFO). */
import { struct, u32, type Infer } from "../struct.js";

/** `struct vfio_irq_info`: 16 bytes. */
export const irqInfoLayout = struct("vfio_irq_info", { argsz: u32, flags: u32, index: u32, count: u32 });
export type IrqInfoWire = Infer<typeof irqInfoLayout>;
