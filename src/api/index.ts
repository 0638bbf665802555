/**
 * vfio-ts api: the VFIO model. Interfaces, plain data, constants and errors; no I/O.
 * Every backend (kernel/, user/, emu/) implements these; nothing here imports a backend.
 */
export * from "./constants.js";
export * from "./driver-managed-dma.js";
export * from "./errors.js";
export type * from "./op.js";
export type * from "./device-info.js";
export type * from "./event-notifier.js";
export type * from "./irq-set.js";
export type * from "./device.js";
export type * from "./container.js";
export type * from "./dma-space.js";
export type * from "./sysfs.js";
export type * from "./host-environment.js";
export type * from "./vfio-system.js";
export type * from "./uio-system.js";
export * from "./hosting.js";
export * from "./iova-allocator.js";
export * from "./container-dma-space.js";
export * from "./open-device.js";
export * from "./open-noiommu-device.js";
export * from "./unsafe-opt-in.js";
export * from "./no-iommu.js";
export * from "./pci-config.js";
export * from "./pci-address.js";
export * from "./format-bytes.js";
