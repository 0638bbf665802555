/**
 * vfio-ts kernel: the Linux backend. Containers, groups and devices through ioctls on
 * /dev/vfio, BARs and DMA memory as typed-array views of mmaps, interrupts as eventfds watched
 * on the event loop. Imports api/, abi/ and native/ (the OS facilities, the only layer that
 * loads koffi); the native/ classes it hands out are re-exported here.
 */
export { KernelSystem, type KernelSystemOptions } from "./system.js";
export { KernelContainer } from "./container.js";
export { KernelGroup } from "./group.js";
export { KernelDevice } from "./device.js";
export { KernelEventNotifier } from "../native/event-notifier.js";
export { MmapRegionMapping } from "../native/region-mapping.js";
export { MemfdMemory, allocateMemfd, PAGE_SIZE, HUGE_PAGE_SIZE } from "../native/process-memory.js";
export { loadLibc, type Libc, type FdWatch, type Rlimit } from "../native/libc.js";
export { processLockedMemory, memlockShortfall, type LockedMemory } from "./memlock.js";
export { directorySysfs } from "./sysfs.js";
