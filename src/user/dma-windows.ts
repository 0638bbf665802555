/**
 * The server's table of the client's DMA windows (DMA_MAP / DMA_UNMAP, spec §"VFIO_USER_DMA_MAP").
 *
 * Windows are kept sorted by address: a lookup is a binary search, an overlap check looks at
 * two neighbours, so 65,535 windows cost what a few do. Every access is checked against the
 * window's bounds and permissions before any byte moves.
 *
 * How a window with an fd is reached is decided once, at DMA_MAP, from what the client can do
 * to the file afterwards. Touching a shared mapping past the end of its file, or on a page the
 * filesystem cannot allocate (a sparse file on a full tmpfs), raises SIGBUS, which would kill
 * the server; and a client can shrink its file at any moment, so no check before a copy can
 * rule that out. So:
 *  - a memfd sealed against shrinking (F_SEAL_SHRINK, memfd_create(2); QEMU's
 *    memory-backend-memfd seals by default) cannot lose pages: it is mmap'd, in pieces of at
 *    most 1 GiB (one koffi view holds at most 4 GiB);
 *  - any other file is reached with pread(2)/pwrite(2) on the client's fd, which turn a missing
 *    page into a short transfer or an errno: the device sees a DMA fault, the server lives.
 * A window without an fd is reached with DMA_READ/DMA_WRITE messages to the client.
 */
import { fstatSync } from "node:fs";
import { DmaFaultError } from "../api/hosting.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { MAP_SHARED, PROT_READ, PROT_WRITE, loadLibc, type Libc } from "../native/libc.js";
import { F_GET_SEALS, F_SEAL_SHRINK, loadSocketLibc } from "../native/socket.js";
import { DirtyLog } from "./dirty-log.js";

export const PAGE_SIZE = 4096n;
/** The largest window accepted: libvfio-user's 8 TiB (VFIO-USER.md §4.1). */
export const MAX_WINDOW_SIZE = 8n << 40n;
/** The largest piece of a window mapped as one view. */
const PIECE = 1n << 30n;

/** mmap: a sealed memfd, mapped; file: pread/pwrite on the client's fd; message: DMA_READ/DMA_WRITE. */
export type DmaWindowKind = "mmap" | "file" | "message";

export interface DmaWindow {
  readonly address: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly kind: DmaWindowKind;
  readonly fd: number | undefined;
  readonly fileOffset: bigint;
}

interface Piece {
  readonly mapped: bigint;
  readonly bytes: Uint8Array;
}

interface Window extends DmaWindow {
  readonly pieces: readonly Piece[];
}

/** Reaches a message-based window (DMA_READ/DMA_WRITE to the client). */
export interface DmaMessenger {
  read(address: bigint, length: number): Promise<Uint8Array>;
  write(address: bigint, data: Uint8Array): Promise<void>;
}

/** A DMA the client's memory could not complete: the device sees a fault, the log says why. */
export class DmaTransferError extends DmaFaultError {
  constructor(address: bigint, access: "read" | "write", readonly detail: string) {
    super(address, access, "out-of-range");
  }
}

const err = (name: "EINVAL" | "EEXIST" | "ENOSPC" | "ENOENT" | "EBADF", detail: string): VfioSystemError =>
  new VfioSystemError("VFIO_USER_DMA_MAP", errnoValue(name), "vfio-user", undefined, detail);

export class DmaWindows {
  /** Sorted by address, never overlapping. */
  readonly #windows: Window[] = [];
  readonly #libc: Libc;
  readonly #maxWindows: number;
  #log: DirtyLog | undefined;

  constructor(maxWindows: number, libc: Libc = loadLibc()) {
    this.#maxWindows = maxWindows;
    this.#libc = libc;
  }

  get count(): number {
    return this.#windows.length;
  }

  /** The windows in address order (for tests). */
  get windows(): readonly DmaWindow[] {
    return this.#windows;
  }

  /** The index of the first window that starts above `address`. */
  #upperBound(address: bigint): number {
    let lo = 0;
    let hi = this.#windows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#windows[mid]!.address <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The window holding all of [address, address+length), if one does. */
  lookup(address: bigint, length: number): DmaWindow | undefined {
    const w = this.#windows[this.#upperBound(address) - 1];
    return w && address + BigInt(length) <= w.address + w.size ? w : undefined;
  }

  /**
   * Adds a window. Takes ownership of `fd` whatever the outcome (closed on failure).
   * Throws VfioSystemError: EINVAL for a bad size/offset/fd, EEXIST for an overlap, ENOSPC past max_dma_maps.
   */
  add(address: bigint, size: bigint, read: boolean, write: boolean, fd: number | undefined, fileOffset: bigint): void {
    try {
      if (size === 0n || size > MAX_WINDOW_SIZE) throw err("EINVAL", `size ${size} is 0 or larger than 8 TiB`);
      if (address + size > 1n << 64n) throw err("EINVAL", "the window wraps past 2^64");
      const at = this.#upperBound(address);
      const before = this.#windows[at - 1];
      const after = this.#windows[at];
      if (before && address < before.address + before.size) throw err("EEXIST", `overlaps the window at 0x${before.address.toString(16)}`);
      if (after && after.address < address + size) throw err("EEXIST", `overlaps the window at 0x${after.address.toString(16)}`);
      if (this.#windows.length >= this.#maxWindows) throw err("ENOSPC", `${this.#maxWindows} windows already mapped`);
      const base = { address, size, read, write };
      if (fd === undefined) {
        this.#windows.splice(at, 0, { ...base, kind: "message", fd: undefined, fileOffset: 0n, pieces: [] });
        return;
      }
      if (fileOffset % PAGE_SIZE !== 0n) throw err("EINVAL", `fd offset ${fileOffset} is not page-aligned`);
      if (fileOffset + size > 1n << 63n) throw err("EINVAL", "the fd offset and size pass the largest file offset");
      this.#checkFile(fd, fileOffset, size);
      const pieces = this.#sealed(fd) ? this.#mapPieces(fd, fileOffset, size, write) : undefined;
      this.#windows.splice(at, 0, { ...base, kind: pieces ? "mmap" : "file", fd, fileOffset, pieces: pieces ?? [] });
    } catch (error) {
      if (fd !== undefined) this.#libc.close(fd);
      throw error;
    }
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

  /** Whether the file can never shrink: a memfd with F_SEAL_SHRINK (memfd_create(2), fcntl(2)). */
  #sealed(fd: number): boolean {
    const seals = loadSocketLibc().fcntl(fd, F_GET_SEALS, 0);
    return seals >= 0 && (seals & F_SEAL_SHRINK) !== 0;
  }

  /** Maps the window in pieces of at most 1 GiB; undefined (nothing left mapped) when the address space runs out. */
  #mapPieces(fd: number, fileOffset: bigint, size: bigint, write: boolean): Piece[] | undefined {
    // Mapped readable even for a write-only window: x86 has no write-only pages (PROT_WRITE
    // implies read), and permissions are enforced per access above the mapping anyway.
    const prot = PROT_READ | (write ? PROT_WRITE : 0);
    const pieces: Piece[] = [];
    for (let at = 0n; at < size; at += PIECE) {
      const length = Number(size - at < PIECE ? size - at : PIECE);
      const mapped = this.#libc.mmap(length, prot, MAP_SHARED, fd, fileOffset + at);
      if (mapped < 0n) {
        this.#unmap(pieces);
        return undefined;
      }
      pieces.push({ mapped, bytes: this.#libc.view(mapped, length) });
    }
    return pieces;
  }

  #unmap(pieces: readonly Piece[]): void {
    // The views of a mapping never leave this object and are used synchronously only, so a
    // plain munmap is safe: nothing touches them afterwards.
    for (const p of pieces) this.#libc.munmap(p.mapped, p.bytes.byteLength);
  }

  /**
   * Removes every window inside [address, address+size), as Linux type1 (v2) unmaps
   * (drivers/vfio/vfio_iommu_type1.c vfio_dma_do_unmap): a range that cuts a window at either
   * end is EINVAL, and a range that holds no window succeeds with nothing removed. The spec
   * and libvfio-user want an exact match and answer ENOENT otherwise; QEMU's vIOMMU unmaps
   * whole IOVA ranges and expects type1's answer, and a window left mapped after the guest
   * unmapped its range would let the device reach memory it no longer may (README "vfio-user").
   * Returns the bytes unmapped.
   */
  remove(address: bigint, size: bigint): bigint {
    const unmapErr = (detail: string): VfioSystemError => new VfioSystemError("VFIO_USER_DMA_UNMAP", errnoValue("EINVAL"), "vfio-user", undefined, detail);
    if (size === 0n || address + size > 1n << 64n) throw unmapErr("an empty range, or one past 2^64");
    const end = address + size;
    const first = this.lookup(address, 1);
    if (first && first.address !== address) throw unmapErr(`the range starts inside the window at 0x${first.address.toString(16)}`);
    const last = this.lookup(end - 1n, 1);
    if (last && last.address + last.size !== end) throw unmapErr(`the range ends inside the window at 0x${last.address.toString(16)}`);
    const from = this.#upperBound(address - 1n);
    let to = from;
    while (to < this.#windows.length && this.#windows[to]!.address + this.#windows[to]!.size <= end) to++;
    let unmapped = 0n;
    for (const w of this.#windows.splice(from, to - from)) {
      unmapped += w.size;
      this.#release(w);
    }
    return unmapped;
  }

  /** Removes every window (VFIO_DMA_UNMAP_FLAG_ALL, and on disconnect). */
  removeAll(): void {
    for (const w of this.#windows.splice(0)) this.#release(w);
  }

  #release(w: Window): void {
    this.#unmap(w.pieces);
    if (w.fd !== undefined) this.#libc.close(w.fd);
  }

  #find(address: bigint, length: number, access: "read" | "write"): Window {
    const w = this.lookup(address, length) as Window | undefined;
    if (!w) throw new DmaFaultError(address, access, "not-mapped");
    if (access === "read" && !w.read) throw new DmaFaultError(address, access, "no-read-permission");
    if (access === "write" && !w.write) throw new DmaFaultError(address, access, "no-write-permission");
    return w;
  }

  /** Device reads client memory. */
  async read(address: bigint, length: number, messenger: DmaMessenger | undefined): Promise<Uint8Array> {
    const w = this.#find(address, length, "read");
    if (w.kind === "message") {
      if (!messenger) throw new DmaFaultError(address, "read", "not-mapped");
      return messenger.read(address, length);
    }
    const out = new Uint8Array(length);
    this.#transfer(w, address, out, "read");
    return out;
  }

  /** Device writes client memory. */
  async write(address: bigint, data: Uint8Array, messenger: DmaMessenger | undefined): Promise<void> {
    const w = this.#find(address, data.byteLength, "write");
    this.#log?.mark(address, data.byteLength);
    if (w.kind === "message") {
      if (!messenger) throw new DmaFaultError(address, "write", "not-mapped");
      return messenger.write(address, data);
    }
    this.#transfer(w, address, data, "write");
  }

  /** Moves `data` between a mapped or file window and this process, piece by piece. */
  #transfer(w: Window, address: bigint, data: Uint8Array, access: "read" | "write"): void {
    let done = 0;
    while (done < data.byteLength) {
      const offset = address - w.address + BigInt(done);
      const chunk = data.subarray(done);
      let n: number;
      if (w.kind === "mmap") {
        const piece = w.pieces[Number(offset / PIECE)]!;
        const at = Number(offset % PIECE);
        n = Math.min(chunk.byteLength, piece.bytes.byteLength - at);
        if (access === "read") chunk.set(piece.bytes.subarray(at, at + n));
        else piece.bytes.set(chunk.subarray(0, n), at);
      } else {
        n = access === "read" ? this.#libc.pread(w.fd!, chunk, w.fileOffset + offset) : this.#libc.pwrite(w.fd!, chunk, w.fileOffset + offset);
        if (n < 0) throw new DmaTransferError(address, access, `${access === "read" ? "pread" : "pwrite"} of the client's fd failed (errno ${-n})`);
        if (n === 0) throw new DmaTransferError(address, access, "the client's file ends inside the window (it was truncated)");
      }
      done += n;
    }
  }

  // DMA logging (DEVICE_FEATURE DMA_LOGGING_START/STOP/REPORT, spec §"VFIO_USER_DEVICE_FEATURE").

  /** Starts logging device writes; no ranges means everything. */
  startLogging(pageSize: bigint, ranges: { iova: bigint; length: bigint }[]): void {
    this.#log = new DirtyLog(pageSize, ranges);
  }

  get logging(): boolean {
    return this.#log !== undefined;
  }

  stopLogging(): void {
    this.#log = undefined;
  }

  /** The dirty bitmap of [iova, iova+length) in `pageSize` units, as u64 words; reading clears it. */
  report(iova: bigint, length: bigint, pageSize: bigint): Uint8Array {
    return this.#log!.report(iova, length, pageSize);
  }
}
