/**
 * The server's table of the client's DMA windows (DMA_MAP / DMA_UNMAP, spec §"VFIO_USER_DMA_MAP").
 *
 * A window mapped with an fd is mmap'd and reached by copying to and from the mapping; a window
 * without one is reached with DMA_READ/DMA_WRITE messages to the client. Every access is
 * checked against the window's bounds and permissions before any byte moves.
 *
 * SIGBUS guard: a client can shrink the file behind a window after mapping it, and touching a
 * shared mapping past the end of its file raises SIGBUS, which would kill the server. So the
 * window keeps its fd and checks the file still covers the range (fstat) before each copy.
 */
import { fstatSync } from "node:fs";
import { DmaFaultError } from "../api/hosting.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { MAP_SHARED, PROT_READ, PROT_WRITE, loadLibc, type Libc } from "../native/libc.js";

export const PAGE_SIZE = 4096n;
/** The largest window accepted: libvfio-user's 8 TiB (VFIO-USER.md §4.1). */
export const MAX_WINDOW_SIZE = 8n << 40n;

export interface DmaWindow {
  readonly address: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** The mapping of the client's fd, or undefined for a message-based window. */
  readonly bytes: Uint8Array | undefined;
  readonly fd: number | undefined;
  readonly fileOffset: bigint;
  readonly mappedAddress: bigint;
}

/** Reaches a message-based window (DMA_READ/DMA_WRITE to the client). */
export interface DmaMessenger {
  read(address: bigint, length: number): Promise<Uint8Array>;
  write(address: bigint, data: Uint8Array): Promise<void>;
}

const err = (name: "EINVAL" | "EEXIST" | "ENOSPC" | "ENOENT" | "EBADF", detail: string): VfioSystemError =>
  new VfioSystemError("VFIO_USER_DMA_MAP", errnoValue(name), "vfio-user", undefined, detail);

export class DmaWindows {
  readonly #windows: DmaWindow[] = [];
  readonly #libc: Libc;
  readonly #maxWindows: number;
  #logging: { pageSize: bigint; ranges: { iova: bigint; length: bigint }[]; dirty: Set<bigint> } | undefined;

  constructor(maxWindows: number, libc: Libc = loadLibc()) {
    this.#maxWindows = maxWindows;
    this.#libc = libc;
  }

  get count(): number {
    return this.#windows.length;
  }

  /** The windows (for tests). */
  get windows(): readonly DmaWindow[] {
    return this.#windows;
  }

  /**
   * Adds a window. Takes ownership of `fd` whatever the outcome (closed on failure).
   * Throws VfioSystemError: EINVAL for a bad size/offset/fd, EEXIST for an overlap, ENOSPC past max_dma_maps.
   */
  add(address: bigint, size: bigint, read: boolean, write: boolean, fd: number | undefined, fileOffset: bigint): void {
    try {
      if (size === 0n || size > MAX_WINDOW_SIZE) throw err("EINVAL", `size ${size} is 0 or larger than 8 TiB`);
      if (address + size > 1n << 64n) throw err("EINVAL", "the window wraps past 2^64");
      for (const w of this.#windows) {
        if (address < w.address + w.size && w.address < address + size) throw err("EEXIST", `overlaps the window at 0x${w.address.toString(16)}`);
      }
      if (this.#windows.length >= this.#maxWindows) throw err("ENOSPC", `${this.#maxWindows} windows already mapped`);
      if (fd === undefined) {
        this.#insert({ address, size, read, write, bytes: undefined, fd: undefined, fileOffset: 0n, mappedAddress: 0n });
        return;
      }
      if (fileOffset % PAGE_SIZE !== 0n) throw err("EINVAL", `fd offset ${fileOffset} is not page-aligned`);
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw err("EINVAL", "window too large to map");
      this.#checkFile(fd, fileOffset, size);
      const prot = (read ? PROT_READ : 0) | (write ? PROT_WRITE : 0);
      // Mapped readable even for a write-only window: x86 has no write-only pages (PROT_WRITE
      // implies read), and permissions are enforced per access above the mapping anyway.
      const mapped = this.#libc.mmap(Number(size), prot | PROT_READ, MAP_SHARED, fd, fileOffset);
      if (mapped < 0n) throw new VfioSystemError("VFIO_USER_DMA_MAP", Number(-mapped), "vfio-user", undefined, "mmap of the client's fd failed");
      this.#insert({ address, size, read, write, bytes: this.#libc.view(mapped, Number(size)), fd, fileOffset, mappedAddress: mapped });
    } catch (error) {
      if (fd !== undefined) this.#libc.close(fd);
      throw error;
    }
  }

  #insert(window: DmaWindow): void {
    this.#windows.push(window);
    this.#windows.sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  #checkFile(fd: number, offset: bigint, size: bigint): void {
    let stat;
    try {
      stat = fstatSync(fd, { bigint: true });
    } catch {
      throw err("EBADF", `fd ${fd} cannot be examined`);
    }
    if (!stat.isFile()) throw err("EINVAL", "the fd is not a file that can back memory (memfd or regular file)");
    if (stat.size < offset + size) throw err("EINVAL", `the file holds ${stat.size} bytes, the window needs ${offset + size}`);
  }

  /** Removes the window that exactly matches; throws ENOENT when none does. */
  remove(address: bigint, size: bigint): void {
    const i = this.#windows.findIndex((w) => w.address === address && w.size === size);
    if (i < 0) throw new VfioSystemError("VFIO_USER_DMA_UNMAP", errnoValue("ENOENT"), "vfio-user", undefined, `no window at 0x${address.toString(16)} of ${size} bytes`);
    this.#release(this.#windows.splice(i, 1)[0]!);
  }

  /** Removes every window (VFIO_DMA_UNMAP_FLAG_ALL, and on disconnect). */
  removeAll(): void {
    for (const w of this.#windows.splice(0)) this.#release(w);
  }

  #release(w: DmaWindow): void {
    // The views of this mapping never leave this object and are only used synchronously, so
    // plain munmap is safe: nothing can touch them afterwards.
    if (w.bytes) this.#libc.munmap(w.mappedAddress, Number(w.size));
    if (w.fd !== undefined) this.#libc.close(w.fd);
  }

  #find(address: bigint, length: number, access: "read" | "write"): DmaWindow {
    const end = address + BigInt(length);
    const w = this.#windows.find((x) => x.address <= address && end <= x.address + x.size);
    if (!w) throw new DmaFaultError(address, access, "not-mapped");
    if (access === "read" && !w.read) throw new DmaFaultError(address, access, "no-read-permission");
    if (access === "write" && !w.write) throw new DmaFaultError(address, access, "no-write-permission");
    return w;
  }

  /** Device reads client memory. */
  async read(address: bigint, length: number, messenger: DmaMessenger | undefined): Promise<Uint8Array> {
    const w = this.#find(address, length, "read");
    if (!w.bytes) {
      if (!messenger) throw new DmaFaultError(address, "read", "not-mapped");
      return messenger.read(address, length);
    }
    const at = Number(address - w.address);
    this.#guard(w, at, length, address, "read");
    return w.bytes.slice(at, at + length);
  }

  /** Device writes client memory. */
  async write(address: bigint, data: Uint8Array, messenger: DmaMessenger | undefined): Promise<void> {
    const w = this.#find(address, data.byteLength, "write");
    this.#markDirty(address, data.byteLength);
    if (!w.bytes) {
      if (!messenger) throw new DmaFaultError(address, "write", "not-mapped");
      return messenger.write(address, data);
    }
    const at = Number(address - w.address);
    this.#guard(w, at, data.byteLength, address, "write");
    w.bytes.set(data, at);
  }

  #guard(w: DmaWindow, at: number, length: number, address: bigint, access: "read" | "write"): void {
    try {
      this.#checkFile(w.fd!, w.fileOffset, BigInt(at + length));
    } catch {
      throw new DmaFaultError(address, access, "out-of-range");
    }
  }

  // DMA logging (DEVICE_FEATURE DMA_LOGGING_START/STOP/REPORT, spec §"VFIO_USER_DEVICE_FEATURE").

  /** Starts logging device writes; no ranges means everything. */
  startLogging(pageSize: bigint, ranges: { iova: bigint; length: bigint }[]): void {
    this.#logging = { pageSize, ranges, dirty: new Set() };
  }

  get logging(): boolean {
    return this.#logging !== undefined;
  }

  stopLogging(): void {
    this.#logging = undefined;
  }

  #markDirty(address: bigint, length: number): void {
    const log = this.#logging;
    if (!log || length === 0) return;
    const end = address + BigInt(length);
    if (log.ranges.length > 0 && !log.ranges.some((r) => address < r.iova + r.length && r.iova < end)) return;
    for (let page = address / log.pageSize; page * log.pageSize < end; page++) log.dirty.add(page);
  }

  /** The dirty bitmap of [iova, iova+length) in `pageSize` units, as u64 words; reading clears it. */
  report(iova: bigint, length: bigint, pageSize: bigint): Uint8Array {
    const log = this.#logging!;
    const pages = Number((length + pageSize - 1n) / pageSize);
    const out = new Uint8Array(Math.ceil(pages / 64) * 8);
    for (const page of [...log.dirty]) {
      const start = page * log.pageSize;
      const end = start + log.pageSize;
      if (end <= iova || start >= iova + length) continue;
      const first = start > iova ? (start - iova) / pageSize : 0n;
      const last = (end - 1n - iova) / pageSize;
      for (let p = first; p <= last && p < BigInt(pages); p++) out[Number(p / 8n)]! |= 1 << Number(p % 8n);
      // Pages wholly inside the reported range are cleared (the kernel's report clears what it returns).
      if (start >= iova && end <= iova + length) log.dirty.delete(page);
    }
    return out;
  }
}
