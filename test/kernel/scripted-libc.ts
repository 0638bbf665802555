/**
 * A scripted Libc for unit tests of the kernel backend without /dev/vfio: records every call,
 * answers ioctls from per-request handlers, and lends real memory (anonymous mmaps, eventfds)
 * where a test needs bytes behind an address.
 */
import { constants } from "node:os";
import type { Sysfs } from "../../src/api/sysfs.js";
import { loadLibc, MAP_ANONYMOUS, MAP_SHARED, type FdEvents, type Libc } from "../../src/native/libc.js";
import type { LockedMemory } from "../../src/kernel/memlock.js";

export type Call = { fn: string; fd?: number; request?: number; arg?: unknown; path?: string };
export type IoctlHandler = (fd: number, arg: Uint8Array | number | string) => number;

export class ScriptedLibc implements Libc {
  readonly calls: Call[] = [];
  readonly handlers = new Map<number, IoctlHandler>();
  readonly openResults = new Map<string, number>();
  readonly openFds = new Set<number>();
  readonly real = loadLibc();
  #next = 100;

  /** The -errno value for a name. */
  static errno(name: keyof typeof constants.errno): number {
    return -constants.errno[name];
  }

  open(path: string): number {
    this.calls.push({ fn: "open", path });
    const scripted = this.openResults.get(path);
    if (scripted !== undefined && scripted < 0) return scripted;
    const fd = this.#next++;
    this.openFds.add(fd);
    return fd;
  }
  close(fd: number): number {
    this.calls.push({ fn: "close", fd });
    if (this.openFds.delete(fd)) return 0;
    return this.real.close(fd);
  }
  #ioctl(fn: string, fd: number, request: number, arg: Uint8Array | number | string): number {
    this.calls.push({ fn, fd, request, arg: typeof arg === "object" ? arg.slice() : arg });
    const handler = this.handlers.get(request);
    return handler ? handler(fd, arg) : ScriptedLibc.errno("ENOTTY");
  }
  ioctlBuffer(fd: number, request: number, arg: Uint8Array): number {
    return this.#ioctl("ioctl", fd, request, arg);
  }
  ioctlValue(fd: number, request: number, arg: number): number {
    return this.#ioctl("ioctl", fd, request, arg);
  }
  ioctlString(fd: number, request: number, arg: string): number {
    const result = this.#ioctl("ioctl", fd, request, arg);
    if (result >= 0) this.openFds.add(result);
    return result;
  }
  pread(fd: number, into: Uint8Array, offset: bigint): number {
    this.calls.push({ fn: "pread", fd, arg: offset });
    return into.byteLength;
  }
  pwrite(fd: number, data: Uint8Array, offset: bigint): number {
    this.calls.push({ fn: "pwrite", fd, arg: offset });
    return data.byteLength;
  }
  read(fd: number, into: Uint8Array): number {
    return this.real.read(fd, into);
  }
  write(fd: number, data: Uint8Array): number {
    return this.real.write(fd, data);
  }
  mmap(length: number, prot: number, flags: number, fd: number, offset: bigint): bigint {
    this.calls.push({ fn: "mmap", fd, arg: offset });
    if (this.openFds.has(fd)) return this.real.mmap(length, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0n);
    return this.real.mmap(length, prot, flags, fd, offset);
  }
  mmapAt(address: bigint, length: number, prot: number, flags: number, fd: number, offset: bigint): bigint {
    return this.real.mmapAt(address, length, prot, flags, fd, offset);
  }
  munmap(address: bigint, length: number): number {
    return this.real.munmap(address, length);
  }
  memfdCreate(name: string, flags: number): number {
    return this.real.memfdCreate(name, flags);
  }
  ftruncate(fd: number, length: bigint): number {
    return this.real.ftruncate(fd, length);
  }
  eventfd(initval: number, flags: number): number {
    return this.real.eventfd(initval, flags);
  }
  getrlimit(resource: number) {
    return this.real.getrlimit(resource);
  }
  view(address: bigint, length: number): Uint8Array {
    return this.real.view(address, length);
  }
  address(bytes: Uint8Array): bigint {
    return this.real.address(bytes);
  }
  watch(fd: number, callback: (events: FdEvents) => void) {
    return this.real.watch(fd, callback);
  }

  /** The ioctl requests made, in order. */
  requests(): number[] {
    return this.calls.filter((c) => c.fn === "ioctl").map((c) => c.request!);
  }
}

/** An in-memory sysfs: files, directories and symlinks given as a flat map. */
export function fixtureSysfs(entries: Record<string, string | { link: string } | { dir: true }>): Sysfs {
  const has = (p: string) => p in entries;
  return {
    description: "fixture",
    async read(p) {
      const e = entries[p];
      return typeof e === "string" ? e : undefined;
    },
    async list(p) {
      const prefix = `${p}/`;
      const names = new Set<string>();
      for (const key of Object.keys(entries)) if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split("/")[0]!);
      return names.size > 0 || has(p) ? [...names].sort() : undefined;
    },
    async readlink(p) {
      const e = entries[p];
      return typeof e === "object" && "link" in e ? e.link : undefined;
    },
    async write() {
      throw new Error("fixture sysfs is read-only");
    },
  };
}

/** Locked-memory facts for tests. */
export function lockedMemory(limit: bigint, locked = 0n, ipcLock = false): LockedMemory {
  return { hasIpcLock: () => ipcLock, limit: () => limit, locked: () => locked };
}
