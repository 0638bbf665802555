/**
 * vfio-ts kernel: the Linux backend. Containers, groups and devices through ioctls on
 * /dev/vfio (koffi, loaded only by ffi.ts), BARs and DMA memory as typed-array views of mmaps,
 * interrupts as eventfds watched on the event loop. Imports api/ and abi/ only.
 */
export { KernelSystem, type KernelSystemOptions } from "./system.js";
export { KernelContainer } from "./container.js";
export { KernelGroup } from "./group.js";
export { KernelDevice } from "./device.js";
export { KernelEventNotifier } from "./event-notifier.js";
export { MmapRegionMapping } from "./region-mapping.js";
export { MemfdMemory, allocateMemfd, PAGE_SIZE, HUGE_PAGE_SIZE } from "./process-memory.js";
export { loadLibc, type Libc, type FdWatch, type Rlimit } from "./libc.js";
export { processLockedMemory, memlockShortfall, type LockedMemory } from "./memlock.js";
export { directorySysfs } from "./sysfs.js";
