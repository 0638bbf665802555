/**
 * vfio-ts native: the OS facilities vfio-ts needs through FFI — fds, mmap, memfd, eventfds
 * watched on the event loop, UNIX sockets with SCM_RIGHTS; the only layer that loads native
 * code (native/ffi.ts). Shared by the Linux backend (kernel/) and vfio-user (user/), which need
 * the same memfd, eventfd and mmap views. Imports api/ and abi/ only.
 */
export { loadLibc, type Libc, type Rlimit } from "./libc.js";
export { watchFd, type FdWatch, type FdEvents } from "./fd-watch.js";
export { loadSocketLibc, type SocketLibc, type SocketWatch, type SocketEvents, type Received } from "./socket.js";
export { KernelEventNotifier } from "./event-notifier.js";
export { MmapRegionMapping } from "./region-mapping.js";
export { MemfdMemory, allocateMemfd, PAGE_SIZE, HUGE_PAGE_SIZE, type AllocateOptions } from "./process-memory.js";
export { retireMapping } from "./retire-mapping.js";
export { directorySysfs } from "./directory-sysfs.js";
export { loadMemoryLock, type MemoryLock } from "./memory-lock.js";
