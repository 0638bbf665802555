/**
 * A BAR window mapped for synchronous access on the emulated machine, whichever way a process
 * mapped it (vfio-pci's region mmap, or sysfs resourceN for UIO). Each access reaches the device
 * as a load or store to real MMIO does; with Memory Space disabled the access faults (the
 * kernel's fault handler gives SIGBUS), here EIO. The subclass says what the access reaches.
 */
import type { RegionMapping } from "../../api/device.js";
import { VfioSystemError, errnoValue } from "../../api/errors.js";

export abstract class ModelMapping implements RegionMapping {
  readonly bytes = undefined;
  #mapped = true;

  constructor(readonly index: number, readonly offset: bigint, readonly size: number) {}

  /** Whether the function's Command register has Memory Space Enable set. */
  protected abstract memoryEnabled(): boolean;
  /** Reads (value undefined) or writes `size` bytes at BAR offset `at`. */
  protected abstract reach(at: bigint, size: 1 | 2 | 4 | 8, value?: bigint): bigint;
  /** Called once, by the first unmap(). */
  protected onUnmap(): void {}

  read8(offset: number): number {
    return Number(this.#access(offset, 1));
  }
  read16(offset: number): number {
    return Number(this.#access(offset, 2));
  }
  read32(offset: number): number {
    return Number(this.#access(offset, 4));
  }
  read64(offset: number): bigint {
    return this.#access(offset, 8);
  }
  write8(offset: number, value: number): void {
    this.#access(offset, 1, BigInt(value & 0xff));
  }
  write16(offset: number, value: number): void {
    this.#access(offset, 2, BigInt(value & 0xffff));
  }
  write32(offset: number, value: number): void {
    this.#access(offset, 4, BigInt(value >>> 0));
  }
  write64(offset: number, value: bigint): void {
    this.#access(offset, 8, BigInt.asUintN(64, value));
  }

  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    this.onUnmap();
  }

  [Symbol.dispose](): void {
    this.unmap();
  }

  #access(offset: number, size: 1 | 2 | 4 | 8, value?: bigint): bigint {
    if (!this.#mapped) throw new VfioSystemError("mapping access", errnoValue("EFAULT"), "emulated", `BAR${this.index} mapping`, "used after unmap()");
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size || offset % size !== 0) {
      throw new RangeError(`BAR${this.index}: ${size}-byte access at ${offset} is outside the mapping or unaligned`);
    }
    if (!this.memoryEnabled()) {
      throw new VfioSystemError("mapping access", errnoValue("EIO"), "emulated", `BAR${this.index} mapping`, "Memory Space Enable is off (real hardware: SIGBUS)");
    }
    return this.reach(this.offset + BigInt(offset), size, value);
  }
}
