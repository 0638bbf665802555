/**
 * A register file standing in for BAR0 in the driver's unit tests: 32-bit registers in a Map,
 * every write recorded, and a hook to answer writes (a CC write setting CSTS, say).
 */
import type { RegionMapping } from "../../../src/api/device.js";
import type { DmaBuffer } from "../../../src/api/dma-space.js";

export class FakeBar implements RegionMapping {
  readonly index = 0;
  readonly offset = 0n;
  readonly size = 0x4000;
  readonly bytes = undefined;
  readonly registers = new Map<number, number>();
  readonly writes: [number, number][] = [];
  onWrite: ((offset: number, value: number) => void) | undefined;
  read8(): number {
    throw new Error("8-bit access");
  }
  read16(): number {
    throw new Error("16-bit access");
  }
  read32(offset: number): number {
    return this.registers.get(offset) ?? 0;
  }
  read64(): bigint {
    throw new Error("the driver reads 64-bit registers as two dwords");
  }
  write8(): void {
    throw new Error("8-bit access");
  }
  write16(): void {
    throw new Error("16-bit access");
  }
  write32(offset: number, value: number): void {
    this.writes.push([offset, value >>> 0]);
    this.registers.set(offset, value >>> 0);
    this.onWrite?.(offset, value >>> 0);
  }
  write64(): void {
    throw new Error("the driver writes 64-bit registers as two dwords");
  }
  unmap(): void {}
  [Symbol.dispose](): void {}
}

/** Plain memory posing as a DMA buffer at `iova`. */
export function fakeBuffer(size: number, iova: bigint): DmaBuffer {
  const bytes = new Uint8Array(size);
  return { iova, size, bytes, free: async () => {}, [Symbol.asyncDispose]: async () => {} };
}
