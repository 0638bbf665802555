/**
 * Locked-memory accounting, checked before VFIO_IOMMU_MAP_DMA so that a mapping the kernel
 * would refuse for RLIMIT_MEMLOCK fails with an explanation instead of a bare ENOMEM.
 *
 * What the kernel does (drivers/vfio/vfio_iommu_type1.c, vfio_pin_pages_remote and
 * vfio_lock_acct, Linux 6.1): every page pinned for a mapping is added to the process's
 * mm->locked_vm (shown as VmLck in /proc/self/status); unless the task has CAP_IPC_LOCK, a pin
 * that would take locked_vm past RLIMIT_MEMLOCK fails with ENOMEM. Root has CAP_IPC_LOCK, so
 * for root there is no limit to check.
 */
import { readFileSync } from "node:fs";
import { RLIMIT_MEMLOCK, RLIM_INFINITY, type Libc } from "../native/libc.js";

/** The process facts the check needs, injectable for tests. */
export interface LockedMemory {
  /** Whether the process has CAP_IPC_LOCK in its effective set (no limit applies). */
  hasIpcLock(): boolean;
  /** RLIMIT_MEMLOCK's soft limit in bytes; RLIM_INFINITY when unlimited. */
  limit(): bigint;
  /** Bytes currently locked by the process (VmLck: mlock plus VFIO pins). */
  locked(): bigint;
}

/** CAP_IPC_LOCK is capability 14 (include/uapi/linux/capability.h). */
const CAP_IPC_LOCK = 14n;

/** Reads the facts from /proc/self/status and getrlimit(2). */
export function processLockedMemory(libc: Libc, statusPath = "/proc/self/status"): LockedMemory {
  const status = (): string => {
    try {
      return readFileSync(statusPath, "utf8");
    } catch {
      return "";
    }
  };
  let ipcLock: boolean | undefined;
  return {
    hasIpcLock() {
      // Capabilities do not change under us unless the process drops them itself; read once.
      ipcLock ??= ((BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(status())?.[1] ?? "0"}`) >> CAP_IPC_LOCK) & 1n) === 1n;
      return ipcLock;
    },
    limit() {
      const rlimit = libc.getrlimit(RLIMIT_MEMLOCK);
      return typeof rlimit === "number" ? RLIM_INFINITY : rlimit.cur;
    },
    locked() {
      const kb = /VmLck:\s*(\d+)\s*kB/.exec(status())?.[1];
      return kb === undefined ? 0n : BigInt(kb) * 1024n;
    },
  };
}

/** How far over the limit a mapping of `size` bytes would go, or undefined when it fits. */
export function memlockShortfall(memory: LockedMemory, size: bigint): { limit: bigint; locked: bigint } | undefined {
  if (memory.hasIpcLock()) return undefined;
  const limit = memory.limit();
  if (limit === RLIM_INFINITY) return undefined;
  const locked = memory.locked();
  return locked + size > limit ? { limit, locked } : undefined;
}

/**
 * The memlock check made incremental, for a container that maps per I/O: reading VmLck is a
 * file read of /proc/self/status and the limit a getrlimit(2), too dear for every MAP_DMA. The
 * budget reads both once, then adds what this container maps and subtracts what it unmaps; it
 * reads again only when its estimate says a mapping would not fit, so a stale estimate never
 * refuses a mapping the kernel would allow. Pages locked elsewhere in the process can make the
 * estimate low: then the kernel's own ENOMEM is the refusal, and `explain` names the limit.
 */
export class MemlockBudget {
  readonly #memory: LockedMemory;
  /** VmLck at the last reading plus this container's net mappings since; undefined before any reading. */
  #locked: bigint | undefined;
  #limit = 0n;
  /** CAP_IPC_LOCK, asked once: a process gains no capability by itself. */
  #exempt: boolean | undefined;

  constructor(memory: LockedMemory) {
    this.#memory = memory;
  }

  /** How far over the limit mapping `size` more bytes would go (fresh readings), or undefined when it fits. */
  shortfall(size: bigint): { limit: bigint; locked: bigint } | undefined {
    if ((this.#exempt ??= this.#memory.hasIpcLock())) return undefined;
    if (this.#locked !== undefined && (this.#limit === RLIM_INFINITY || this.#locked + size <= this.#limit)) return undefined;
    return this.#read(size);
  }

  /** After a mapping of `bytes` succeeded (negative for an unmap). */
  account(bytes: bigint): void {
    if (this.#locked !== undefined) this.#locked += bytes;
  }

  /** Forgets the estimate (the container's mappings went with its last group): the next check reads afresh. */
  forget(): void {
    this.#locked = undefined;
  }

  /** After the kernel refused a mapping with ENOMEM: the shortfall by fresh readings, if RLIMIT_MEMLOCK explains it. */
  explain(size: bigint): { limit: bigint; locked: bigint } | undefined {
    return this.#memory.hasIpcLock() ? undefined : this.#read(size);
  }

  #read(size: bigint): { limit: bigint; locked: bigint } | undefined {
    this.#limit = this.#memory.limit();
    if (this.#limit === RLIM_INFINITY) {
      this.#locked = 0n;
      return undefined;
    }
    const locked = this.#memory.locked();
    this.#locked = locked;
    return locked + size > this.#limit ? { limit: this.#limit, locked } : undefined;
  }
}
