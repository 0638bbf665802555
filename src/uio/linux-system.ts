/**
 * UioSystem on real Linux: sysfs `config` by pread/pwrite, `resourceN` by mmap, `/dev/uioN`
 * read on Node's event loop (a uv_poll_t through native/fd-watch.ts: no thread blocked, no
 * timer), memfd memory locked with mlock (hugetlb where asked), and /proc/self/pagemap.
 */
import { closeSync, openSync, readSync } from "node:fs";
import type { RegionMapping } from "../api/device.js";
import type { EventNotifier } from "../api/event-notifier.js";
import type { Sysfs } from "../api/sysfs.js";
import type { ConfigFile, PinnedMemory, UioEventFile, UioSystem } from "../api/uio-system.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { directorySysfs } from "../native/directory-sysfs.js";
import { KernelEventNotifier } from "../native/event-notifier.js";
import { MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, loadLibc, type FdWatch, type Libc } from "../native/libc.js";
import { loadMemoryLock, type MemoryLock } from "../native/memory-lock.js";
import { allocateMemfd, PAGE_SIZE } from "../native/process-memory.js";
import { MmapRegionMapping } from "../native/region-mapping.js";

const O_NONBLOCK = 0o4000;

export interface LinuxUioSystemOptions {
  /** Where sysfs is (default "/sys"). */
  readonly sysfsRoot?: string;
  /** Where the UIO device nodes are (default "/dev"). */
  readonly dev?: string;
  /** The pagemap file (default "/proc/self/pagemap"). */
  readonly pagemap?: string;
}

export class LinuxUioSystem implements UioSystem {
  readonly description = "Linux";
  readonly sysfs: Sysfs;
  readonly pageSize = PAGE_SIZE;
  readonly #libc: Libc;
  readonly #lock: MemoryLock;
  readonly #sysfsRoot: string;
  readonly #dev: string;
  readonly #pagemap: string;

  constructor(options: LinuxUioSystemOptions = {}) {
    this.#sysfsRoot = options.sysfsRoot ?? "/sys";
    this.#dev = options.dev ?? "/dev";
    this.#pagemap = options.pagemap ?? "/proc/self/pagemap";
    this.sysfs = directorySysfs(this.#sysfsRoot);
    this.#libc = loadLibc();
    this.#lock = loadMemoryLock();
  }

  #devicePath(name: string, file: string): string {
    return `${this.#sysfsRoot}/bus/pci/devices/${name}/${file}`;
  }

  #open(path: string, flags: number, hint?: string): number {
    const fd = this.#libc.open(path, flags | O_CLOEXEC);
    if (fd < 0) {
      const why = hint ?? (fd === -errnoValue("EACCES") || fd === -errnoValue("EPERM") ? "needs root (CAP_SYS_ADMIN)" : undefined);
      throw new VfioSystemError("open", -fd, "syscall", path, why);
    }
    return fd;
  }

  openConfig(name: string): ConfigFile {
    const path = this.#devicePath(name, "config");
    let fd = this.#open(path, O_RDWR);
    const libc = this.#libc;
    return {
      read(offset, length) {
        const into = new Uint8Array(length);
        const n = libc.pread(fd, into, BigInt(offset));
        if (n < 0) throw new VfioSystemError("config read", -n, "sysfs", path);
        return into.subarray(0, n);
      },
      write(offset, data) {
        const n = libc.pwrite(fd, data, BigInt(offset));
        if (n < 0) throw new VfioSystemError("config write", -n, "sysfs", path);
        return n;
      },
      close() {
        if (fd < 0) return;
        libc.close(fd);
        fd = -1;
      },
    };
  }

  mapResource(name: string, index: number, offset: bigint, size: number, writeCombine: boolean): RegionMapping {
    const path = this.#devicePath(name, `resource${index}${writeCombine ? "_wc" : ""}`);
    const fd = this.#open(path, O_RDWR);
    const address = this.#libc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    // The mapping holds its own reference to the file (mm/mmap.c): the fd is not needed after.
    this.#libc.close(fd);
    if (address < 0n) {
      const hint = -address === BigInt(errnoValue("EINVAL")) ? "the window is outside the BAR, or the BAR is not memory (I/O port BARs cannot be mmapped)" : undefined;
      throw new VfioSystemError("mmap", Number(-address), "syscall", path, hint);
    }
    return new MmapRegionMapping(this.#libc, index, offset, size, address);
  }

  openUio(n: number): UioEventFile {
    const path = `${this.#dev}/uio${n}`;
    const fd = this.#open(path, O_RDWR | O_NONBLOCK);
    return new LinuxUioEventFile(this.#libc, fd, path);
  }

  allocatePinned(size: number, options: { readonly hugepages?: boolean } = {}): PinnedMemory {
    const memory = allocateMemfd(this.#libc, size, { hugepages: options.hugepages ?? false, name: "vfio-ts-uio-dma" });
    const locked = this.#lock.mlock(memory.vaddr, memory.size);
    if (locked < 0) {
      memory.free();
      const hint = -locked === errnoValue("ENOMEM") || -locked === errnoValue("EPERM")
        ? "RLIMIT_MEMLOCK is too low for this buffer (ulimit -l), and the process lacks CAP_IPC_LOCK" : undefined;
      throw new VfioSystemError("mlock", -locked, "syscall", `${memory.size} bytes`, hint);
    }
    return memory;
  }

  readPagemap(vaddr: bigint, count: number): BigUint64Array {
    const entries = new BigUint64Array(count);
    const bytes = new Uint8Array(entries.buffer);
    let fd: number;
    try {
      fd = openSync(this.#pagemap, "r");
    } catch (error) {
      throw new VfioSystemError("pagemap read", (error as NodeJS.ErrnoException).errno ? -(error as NodeJS.ErrnoException).errno! : errnoValue("EIO"), "syscall", this.#pagemap);
    }
    try {
      const n = readSync(fd, bytes, 0, bytes.byteLength, Number(vaddr / BigInt(this.pageSize)) * 8);
      if (n !== bytes.byteLength) throw new VfioSystemError("pagemap read", errnoValue("EIO"), "syscall", this.#pagemap, `read ${n} of ${bytes.byteLength} bytes`);
    } catch (error) {
      if (error instanceof VfioSystemError) throw error;
      throw new VfioSystemError("pagemap read", -((error as NodeJS.ErrnoException).errno ?? -errnoValue("EIO")), "syscall", this.#pagemap);
    } finally {
      closeSync(fd);
    }
    return entries;
  }

  createNotifier(): EventNotifier {
    return new KernelEventNotifier(this.#libc);
  }
}

/**
 * /dev/uioN, non-blocking and watched for readability. uio_poll reports readable while the
 * device's event count differs from the count this file last read; uio_read returns the
 * count as a 4-byte value (and needs exactly 4 bytes: EINVAL otherwise). A device without an
 * IRQ answers EIO: the watch stops rather than spin on a level-triggered error.
 */
class LinuxUioEventFile implements UioEventFile {
  #fd: number;
  #watch: FdWatch | undefined;
  #listener: ((total: number) => void) | undefined;
  readonly #count = new Uint32Array(1);
  readonly #bytes = new Uint8Array(this.#count.buffer);

  constructor(private readonly libc: Libc, fd: number, private readonly path: string) {
    this.#fd = fd;
  }

  listen(listener: (total: number) => void): void {
    if (this.#fd < 0) throw new VfioSystemError("uio read", errnoValue("EBADF"), "syscall", this.path, "the file is closed");
    this.#listener = listener;
    this.#watch ??= this.libc.watch(this.#fd, () => this.#readable());
    this.#watch.update({ readable: true, writable: false });
    active.add(this);
  }

  #readable(): void {
    if (this.#fd < 0) return;
    const n = this.libc.read(this.#fd, this.#bytes);
    if (n === 4) {
      this.#listener?.(this.#count[0]!);
      return;
    }
    if (n === -errnoValue("EAGAIN")) return;
    // EIO: no IRQ behind this UIO device; anything else is as permanent.
    this.stop();
  }

  stop(): void {
    this.#watch?.update({ readable: false, writable: false });
    active.delete(this);
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#watch?.close();
    this.#watch = undefined;
    active.delete(this);
    this.libc.close(this.#fd);
    this.#fd = -1;
    this.#listener = undefined;
  }
}

/** Watched files stay reachable: koffi closes a poll handle JS no longer references (native/fd-watch.ts). */
const active = new Set<LinuxUioEventFile>();
