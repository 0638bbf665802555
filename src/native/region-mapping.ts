/**
 * RegionMapping over mmap'd device memory (a BAR mapped through the device fd at the region's
 * offset, vfio.h "VFIO_REGION_INFO_FLAG_MMAP"). Accesses are plain typed-array loads and stores:
 * no system call, no copy (docs/architecture.md, "Register path").
 *
 * Safety: after `unmap()` the accessors see zero-length arrays and throw (EFAULT), and the
 * memory behind any `bytes` a caller kept is replaced by a placeholder (retire-mapping.ts), so
 * no access can reach unmapped memory.
 */
import type { RegionMapping } from "../api/device.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import type { Libc } from "./libc.js";
import { retireMapping } from "./retire-mapping.js";

const empty = new ArrayBuffer(0);

/** Typed-array access to an mmap'd window of a region. */
export class MmapRegionMapping implements RegionMapping {
  #u8: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  #u64: BigUint64Array;
  // Where the mapping is read-only (PROT_READ: the region lacks VFIO_REGION_INFO_FLAG_WRITE), a
  // store would be a SIGSEGV: the write accessors then see empty arrays and throw, at no cost
  // to the read path or to writable mappings.
  #w8: Uint8Array;
  #w16: Uint16Array;
  #w32: Uint32Array;
  #w64: BigUint64Array;
  #address: bigint;
  readonly #libc: Libc;
  #onUnmap: (() => void) | undefined;

  constructor(
    libc: Libc,
    readonly index: number,
    readonly offset: bigint,
    readonly size: number,
    /** The mapping's address in this process. */
    address: bigint,
    onUnmap?: () => void,
    /** False where the memory is mapped PROT_READ only. */
    readonly writable = true,
  ) {
    this.#libc = libc;
    this.#address = address;
    const buffer = libc.view(address, size).buffer;
    this.#u8 = new Uint8Array(buffer);
    // A window of a size that is not a multiple of 8 still allows the narrower accesses.
    this.#u16 = new Uint16Array(buffer, 0, size >>> 1);
    this.#u32 = new Uint32Array(buffer, 0, size >>> 2);
    this.#u64 = new BigUint64Array(buffer, 0, size >>> 3);
    this.#w8 = writable ? this.#u8 : new Uint8Array(empty);
    this.#w16 = writable ? this.#u16 : new Uint16Array(empty);
    this.#w32 = writable ? this.#u32 : new Uint32Array(empty);
    this.#w64 = writable ? this.#u64 : new BigUint64Array(empty);
    this.#onUnmap = onUnmap;
  }

  /** The mapped bytes; empty after unmap. */
  get bytes(): Uint8Array {
    return this.#u8;
  }

  /** The process address of the mapping; 0n after unmap. */
  get address(): bigint {
    return this.#address;
  }

  get mapped(): boolean {
    return this.#address !== 0n;
  }

  // The accessors are the synchronous register path: a typed-array load or store behind one
  // bounds-and-alignment check, and nothing allocated. `index * width !== offset` rejects in one
  // comparison a misaligned, negative, fractional or >= 2^32 offset (which `>>>` would otherwise
  // wrap onto a register in range); the typed array's length bounds the rest, and is 0 after
  // unmap(). What the check costs (bench/kernel-mmio.bench.ts, the same accessor without it, in
  // a loop over a 64 KiB window): about a fifth of read32's rate and a third of write32's, about
  // 0.3 ns per access. The larger gap to C's volatile loads and stores is V8's own per-access
  // work (the receiver's map check, the array's length and base pointer, reloaded on every call)
  // and is there without the check too; on a real BAR an uncached access costs far more than either.
  read8(offset: number): number {
    const value = this.#u8[offset];
    if (value === undefined) throw this.#bad(offset, 1);
    return value;
  }

  read16(offset: number): number {
    const index = offset >>> 1;
    const value = this.#u16[index];
    if (value === undefined || index * 2 !== offset) throw this.#bad(offset, 2);
    return value;
  }

  read32(offset: number): number {
    const index = offset >>> 2;
    const value = this.#u32[index];
    if (value === undefined || index * 4 !== offset) throw this.#bad(offset, 4);
    return value;
  }

  read64(offset: number): bigint {
    const index = offset >>> 3;
    const value = this.#u64[index];
    if (value === undefined || index * 8 !== offset) throw this.#bad(offset, 8);
    return value;
  }

  write8(offset: number, value: number): void {
    const index = offset >>> 0;
    if (!(index < this.#w8.length) || index !== offset) throw this.#bad(offset, 1);
    this.#w8[index] = value;
  }

  write16(offset: number, value: number): void {
    const index = offset >>> 1;
    if (!(index < this.#w16.length) || index * 2 !== offset) throw this.#bad(offset, 2);
    this.#w16[index] = value;
  }

  write32(offset: number, value: number): void {
    const index = offset >>> 2;
    if (!(index < this.#w32.length) || index * 4 !== offset) throw this.#bad(offset, 4);
    this.#w32[index] = value;
  }

  write64(offset: number, value: bigint): void {
    const index = offset >>> 3;
    if (!(index < this.#w64.length) || index * 8 !== offset) throw this.#bad(offset, 8);
    this.#w64[index] = value;
  }

  unmap(): void {
    if (this.#address === 0n) return;
    const buffer = this.#u8.buffer;
    const address = this.#address;
    this.#address = 0n;
    this.#u8 = new Uint8Array(empty);
    this.#u16 = new Uint16Array(empty);
    this.#u32 = new Uint32Array(empty);
    this.#u64 = new BigUint64Array(empty);
    this.#w8 = this.#u8;
    this.#w16 = this.#u16;
    this.#w32 = this.#u32;
    this.#w64 = this.#u64;
    retireMapping(this.#libc, address, this.size, buffer);
    const onUnmap = this.#onUnmap;
    this.#onUnmap = undefined;
    onUnmap?.();
  }

  [Symbol.dispose](): void {
    this.unmap();
  }

  #bad(offset: number, width: number): Error {
    // Used after unmap: EFAULT, as on every backend (api/op.ts "mapping access").
    if (this.#address === 0n) return new VfioSystemError("mapping access", errnoValue("EFAULT"), "syscall", `region ${this.index} mapping`, `access at ${offset} after unmap()`);
    if (!this.writable && offset >= 0 && offset + width <= this.size) return new RangeError(`region ${this.index}: the mapping is read-only (the region has no WRITE flag)`);
    return new RangeError(`region ${this.index}: ${width}-byte access at ${offset} is outside the ${this.size}-byte mapping or misaligned`);
  }
}
