/**
 * vfio-ts abi: struct layouts as data (linux/vfio.h, the vfio-user wire), ioctl numbers, and
 * the codec that reads and writes them. Pure: imports api/ only.
 */
export * from "./struct.js";
export * from "./ioctl-number.js";
export * from "./argsz.js";
export * from "./cap-chain.js";
export * from "./info-reply.js";
export * from "./irq-set.js";
export * from "./vfio/group-status.js";
export * from "./vfio/device-info.js";
export * from "./vfio/region-info.js";
export * from "./vfio/irq-info.js";
export * from "./vfio/irq-set.js";
export * from "./vfio/dma-map.js";
export * from "./vfio/iommu-info.js";
export * from "./vfio/info-cap.js";
export * from "./vfio/hot-reset.js";
export * from "./vfio/layouts.js";
export * as vfioUser from "./vfio-user/index.js";
