/**
 * The system calls vfio-ts makes (kernel/ and user/ alike), behind one interface so that
 * everything above it takes a `Libc` as a parameter and runs in unit tests with a scripted one
 * (rust-vmm's `vfio_syscall` real/fake pair, done by injection).
 *
 * Convention, as the raw Linux syscall ABI has it: a call returns its result, or `-errno` on
 * failure (negative number; negative bigint for `mmap`). The real implementation reads
 * `koffi.errno()` immediately after each call, before anything else can overwrite it. Callers
 * turn a negative result into a VfioSystemError that names the operation and its target.
 */
import { koffi, libcLibrary } from "./ffi.js";
import { watchFd, type FdEvents, type FdWatch } from "./fd-watch.js";

export type { FdEvents, FdWatch } from "./fd-watch.js";

/** struct rlimit; RLIM_INFINITY is 2^64-1. */
export interface Rlimit {
  readonly cur: bigint;
  readonly max: bigint;
}

export interface Libc {
  /** open(2). */
  open(path: string, flags: number): number;
  /** close(2). */
  close(fd: number): number;
  /** ioctl(2) whose argument is a pointer to `arg` (in/out). */
  ioctlBuffer(fd: number, request: number, arg: Uint8Array): number;
  /** ioctl(2) whose argument is an integer passed by value (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU). */
  ioctlValue(fd: number, request: number, arg: number): number;
  /** ioctl(2) whose argument is a NUL-terminated string (VFIO_GROUP_GET_DEVICE_FD). */
  ioctlString(fd: number, request: number, arg: string): number;
  /** pread64(2) into `into`; returns the bytes read. */
  pread(fd: number, into: Uint8Array, offset: bigint): number;
  /** pwrite64(2) of `data`; returns the bytes written. */
  pwrite(fd: number, data: Uint8Array, offset: bigint): number;
  /** read(2). */
  read(fd: number, into: Uint8Array): number;
  /** write(2). */
  write(fd: number, data: Uint8Array): number;
  /** mmap64(2) with a NULL hint; returns the address, or -errno as a negative bigint. */
  mmap(length: number, prot: number, flags: number, fd: number, offset: bigint): bigint;
  /** mmap64(2) at a fixed address (MAP_FIXED is the caller's flag). */
  mmapAt(address: bigint, length: number, prot: number, flags: number, fd: number, offset: bigint): bigint;
  /** munmap(2). */
  munmap(address: bigint, length: number): number;
  /** memfd_create(2). */
  memfdCreate(name: string, flags: number): number;
  /** ftruncate64(2). */
  ftruncate(fd: number, length: bigint): number;
  /** eventfd(2). */
  eventfd(initval: number, flags: number): number;
  /** getrlimit(2); a negative errno on failure. */
  getrlimit(resource: number): Rlimit | number;
  /** The memory at `address` as bytes, zero-copy (the view is not detached by munmap: see RegionMapping). */
  view(address: bigint, length: number): Uint8Array;
  /** The address of a typed array's first byte. */
  address(bytes: Uint8Array): bigint;
  /** Watches `fd` on the event loop (koffi.node.poll, level-triggered; fd-watch.ts). Not started. */
  watch(fd: number, callback: (events: FdEvents) => void): FdWatch;
}

/** Linux x86-64 values used by the backends (asm-generic and x86 headers). */
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MFD_CLOEXEC = 0x1;
export const MFD_HUGETLB = 0x4;
/** MFD_HUGE_2MB: log2(2 MiB) << MFD_HUGE_SHIFT (26). */
export const MFD_HUGE_2MB = 21 << 26;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const RLIMIT_MEMLOCK = 8;
export const RLIM_INFINITY = (1n << 64n) - 1n;

let loaded: Libc | undefined;

/** The real C library, loaded on first call (the only path that reaches native code). */
export function loadLibc(): Libc {
  loaded ??= createLibc();
  return loaded;
}

function createLibc(): Libc {
  const k = koffi();
  const lib = libcLibrary();
  const errno = (): number => k.errno();
  // Fixed-arity declarations per argument shape: ABI-safe on x86-64 and faster than the
  // variadic form.
  const open = lib.func("int open(const char *path, int flags)");
  const close = lib.func("int close(int fd)");
  const ioctlBuffer = lib.func("ioctl", "int", ["int", "unsigned long", "void *"]);
  const ioctlValue = lib.func("ioctl", "int", ["int", "unsigned long", "unsigned long"]);
  const ioctlString = lib.func("ioctl", "int", ["int", "unsigned long", "const char *"]);
  const pread64 = lib.func("intptr_t pread64(int fd, _Out_ void *buf, size_t count, int64_t offset)");
  const pwrite64 = lib.func("intptr_t pwrite64(int fd, const void *buf, size_t count, int64_t offset)");
  const read = lib.func("intptr_t read(int fd, _Out_ void *buf, size_t count)");
  const write = lib.func("intptr_t write(int fd, const void *buf, size_t count)");
  // Addresses travel as integers (uintptr_t), never as koffi pointer objects, so the rest of
  // the backend sees plain bigints.
  const mmap64 = lib.func("mmap64", "uintptr_t", ["uintptr_t", "size_t", "int", "int", "int", "int64_t"]);
  const munmap = lib.func("int munmap(uintptr_t addr, size_t length)");
  const memfdCreate = lib.func("int memfd_create(const char *name, unsigned int flags)");
  const ftruncate64 = lib.func("int ftruncate64(int fd, int64_t length)");
  const eventfd = lib.func("int eventfd(unsigned int initval, int flags)");
  const getrlimit = lib.func("int getrlimit(int resource, _Out_ void *rlim)");

  const ok = (result: number): number => (result < 0 ? -errno() : result);
  const okBig = (result: number | bigint): bigint => {
    const value = BigInt(result);
    // MAP_FAILED is (void *)-1: 2^64-1 as an unsigned integer.
    return value === RLIM_INFINITY ? -BigInt(errno()) : value;
  };
  const toBig = (value: unknown): bigint => BigInt(value as number | bigint);

  return {
    open: (path, flags) => ok(open(path, flags) as number),
    close: (fd) => ok(close(fd) as number),
    ioctlBuffer: (fd, request, arg) => ok(ioctlBuffer(fd, request, arg) as number),
    ioctlValue: (fd, request, arg) => ok(ioctlValue(fd, request, arg) as number),
    ioctlString: (fd, request, arg) => ok(ioctlString(fd, request, arg) as number),
    pread: (fd, into, offset) => ok(Number(pread64(fd, into, into.byteLength, offset))),
    pwrite: (fd, data, offset) => ok(Number(pwrite64(fd, data, data.byteLength, offset))),
    read: (fd, into) => ok(Number(read(fd, into, into.byteLength))),
    write: (fd, data) => ok(Number(write(fd, data, data.byteLength))),
    mmap: (length, prot, flags, fd, offset) => okBig(mmap64(0, length, prot, flags, fd, offset) as bigint),
    mmapAt: (address, length, prot, flags, fd, offset) => okBig(mmap64(address, length, prot, flags, fd, offset) as bigint),
    munmap: (address, length) => ok(munmap(address, length) as number),
    memfdCreate: (name, flags) => ok(memfdCreate(name, flags) as number),
    ftruncate: (fd, length) => ok(ftruncate64(fd, length) as number),
    eventfd: (initval, flags) => ok(eventfd(initval, flags) as number),
    getrlimit(resource) {
      const out = new BigUint64Array(2);
      const result = getrlimit(resource, out) as number;
      if (result < 0) return -errno();
      return { cur: out[0]!, max: out[1]! };
    },
    view: (address, length) => new Uint8Array(k.view(address as unknown as object, length)),
    address: (bytes) => toBig(k.address(bytes)),
    watch: watchFd,
  };
}
