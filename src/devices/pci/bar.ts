/**
 * Base Address Registers of a type 0 header (PCI Local Bus Spec 3.0 §6.2.5.1): the type bits a
 * BAR reads with, and the write mask that makes size probing work. Software writes all-ones and
 * reads back the mask: the bits below the size read as zero (or as the type bits), so the size
 * is ~mask + 1. A 64-bit BAR takes two registers; the upper one holds address bits 63:32.
 */
import type { BarSpec } from "../../api/hosting.js";
import {
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
} from "../../api/pci-regs.js";

/** One implemented BAR as it sits in the header. */
export interface BarSlot {
  /** BAR number 0..5 (of the lower register, for a 64-bit BAR). */
  readonly index: number;
  readonly spec: BarSpec;
  /** The read-only low bits: space, type, prefetchable. */
  readonly typeBits: number;
  /** Write mask of the (lower) register. */
  readonly lowMask: number;
  /** Write mask of the upper register of a 64-bit BAR; undefined for 32-bit and I/O BARs. */
  readonly highMask: number | undefined;
}

function isPowerOfTwo(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}

/**
 * Validates a model's BAR list and lays it out: sizes are powers of two, at least 16 bytes for
 * memory and 4 for I/O (§6.2.5.1), memory32 and I/O within 4 GiB, and a 64-bit BAR's upper
 * half is free (not BAR5, next entry undefined).
 */
export function layoutBars(bars: readonly (BarSpec | undefined)[]): BarSlot[] {
  if (bars.length > 6) throw new RangeError(`a type 0 header has 6 BARs, not ${bars.length}`);
  const slots: BarSlot[] = [];
  for (let index = 0; index < bars.length; index++) {
    const spec = bars[index];
    if (spec === undefined) continue;
    const { size, kind } = spec;
    if (!isPowerOfTwo(size)) throw new RangeError(`BAR${index}: size 0x${size.toString(16)} is not a power of two`);
    if (kind === "io") {
      if (size < 4n || size > 1n << 32n) throw new RangeError(`BAR${index}: I/O size must be 4 bytes to 4 GiB`);
      if (spec.prefetchable) throw new RangeError(`BAR${index}: an I/O BAR cannot be prefetchable`);
      slots.push({ index, spec, typeBits: PCI_BASE_ADDRESS_SPACE_IO, lowMask: Number(~(size - 1n) & 0xfffffffcn), highMask: undefined });
      continue;
    }
    if (size < 16n) throw new RangeError(`BAR${index}: memory size must be at least 16 bytes`);
    const prefetch = spec.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
    if (kind === "memory32") {
      if (size > 1n << 31n) throw new RangeError(`BAR${index}: a 32-bit BAR holds at most 2 GiB`);
      slots.push({ index, spec, typeBits: prefetch, lowMask: Number(~(size - 1n) & 0xfffffff0n), highMask: undefined });
      continue;
    }
    if (index === 5) throw new RangeError("BAR5 cannot be 64-bit: it has no upper register");
    if (bars[index + 1] !== undefined) throw new RangeError(`BAR${index + 1} is the upper half of 64-bit BAR${index}; leave it undefined`);
    const mask = ~(size - 1n) & 0xffff_ffff_ffff_fff0n;
    slots.push({
      index,
      spec,
      typeBits: PCI_BASE_ADDRESS_MEM_TYPE_64 | prefetch,
      lowMask: Number(mask & 0xffff_fff0n),
      highMask: Number(mask >> 32n),
    });
    index++;
  }
  return slots;
}

/** A BAR's read-only type bits in the low nibble (§6.2.5.1): I/O, 64-bit, prefetchable. */
export function barTypeBits(spec: BarSpec): number {
  if (spec.kind === "io") return PCI_BASE_ADDRESS_SPACE_IO;
  return (spec.kind === "memory64" ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (spec.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}
