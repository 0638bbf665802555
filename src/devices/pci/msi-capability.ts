/**
 * The MSI capability structure (PCI Local Bus Spec 3.0 §6.8.1) as a function presents it:
 * its layout, its write masks, and the state a host needs to deliver a vector (enabled,
 * message address and data, vectors granted, per-vector mask).
 *
 * Write behaviour follows QEMU's hw/pci/msi.c (msi_init, msi_write_config), which is what a
 * QEMU device such as edu presents: Message Control's Enable and Multiple Message Enable are
 * writable, an MME larger than MMC is clamped to MMC, the address is dword aligned.
 */
import { struct, u8, u16, u32 } from "../../abi/struct.js";
import { PCI_CAP_ID_MSI } from "../../api/pci-regs.js";
import {
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
} from "../../api/pci-regs.js";

/** The four layouts of §6.8.1 (32/64-bit address, with or without per-vector masking). */
export const msiCap32Layout = struct("pci_msi_cap_32", { capId: u8, next: u8, control: u16, addressLo: u32, data: u16 }, { packed: true });
export const msiCap64Layout = struct("pci_msi_cap_64", { capId: u8, next: u8, control: u16, addressLo: u32, addressHi: u32, data: u16 }, { packed: true });
export const msiCap32MaskLayout = struct(
  "pci_msi_cap_32_mask",
  { capId: u8, next: u8, control: u16, addressLo: u32, data: u16, reserved: u16, mask: u32, pending: u32 },
  { packed: true },
);
export const msiCap64MaskLayout = struct(
  "pci_msi_cap_64_mask",
  { capId: u8, next: u8, control: u16, addressLo: u32, addressHi: u32, data: u16, reserved: u16, mask: u32, pending: u32 },
  { packed: true },
);

export interface MsiCapabilityOptions {
  /** Vectors the function asks for (Multiple Message Capable): 1, 2, 4, 8, 16 or 32. */
  readonly vectors: number;
  /** 64-bit message address (QEMU edu: yes). */
  readonly address64: boolean;
  /** Per-vector masking (QEMU edu: no). */
  readonly perVectorMask: boolean;
}

/** An MSI message: the memory write the function performs to signal a vector. */
export interface MsiMessage {
  readonly address: bigint;
  readonly data: number;
  /** The vector is masked (per-vector mask bit set): the host holds it pending instead of sending. */
  readonly masked: boolean;
}

/** What a host needs of a function's MSI capability right now. */
export interface MsiState {
  readonly enabled: boolean;
  readonly address: bigint;
  readonly data: number;
  /** Vectors the function asks for (Multiple Message Capable). */
  readonly vectorsCapable: number;
  /** Vectors software granted (Multiple Message Enable). */
  readonly vectorsEnabled: number;
  /** Per-vector mask bits, 0 when the capability has none. */
  readonly mask: number;
}

/** Byte view helpers over the config image; little-endian as PCI is. */
function getLE(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + bytes[offset + i]!;
  return value;
}
function setLE(bytes: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) {
    bytes[offset + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}

/**
 * An MSI capability placed at `offset` of a config image. It does not own the bytes: the
 * config space does; this object knows where the fields are and what they mean.
 */
export class MsiCapability {
  readonly offset: number;
  readonly options: MsiCapabilityOptions;
  /** Size of the structure in config space. */
  readonly size: number;
  private readonly fieldOffsets: { control: number; addressLo: number; addressHi?: number; data: number; mask?: number; pending?: number };

  constructor(offset: number, options: MsiCapabilityOptions) {
    const { vectors } = options;
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > 32 || (vectors & (vectors - 1)) !== 0) {
      throw new RangeError(`MSI vectors must be a power of two from 1 to 32, not ${vectors}`);
    }
    this.offset = offset;
    this.options = options;
    const layout = options.address64
      ? options.perVectorMask ? msiCap64MaskLayout : msiCap64Layout
      : options.perVectorMask ? msiCap32MaskLayout : msiCap32Layout;
    this.size = layout.size;
    const o = layout.offsets as Record<string, number>;
    this.fieldOffsets = {
      control: o["control"]!,
      addressLo: o["addressLo"]!,
      data: o["data"]!,
      ...(o["addressHi"] !== undefined ? { addressHi: o["addressHi"] } : {}),
      ...(o["mask"] !== undefined ? { mask: o["mask"], pending: o["pending"]! } : {}),
    };
  }

  /** log2(vectors): the Multiple Message Capable field. */
  private get log2Vectors(): number {
    return Math.log2(this.options.vectors);
  }

  /**
   * Writes the power-on structure into `config` and its write masks into `wmask`
   * (QEMU msi_init: Enable|MME, address dword-aligned, data 16 bits, mask bits per vector).
   */
  install(config: Uint8Array, wmask: Uint8Array, next: number): void {
    const at = this.offset;
    const f = this.fieldOffsets;
    let control = this.log2Vectors << 1;
    if (this.options.address64) control |= PCI_MSI_FLAGS_64BIT;
    if (this.options.perVectorMask) control |= PCI_MSI_FLAGS_MASKBIT;
    config.fill(0, at, at + this.size);
    wmask.fill(0, at, at + this.size);
    config[at] = PCI_CAP_ID_MSI;
    config[at + 1] = next;
    setLE(config, at + f.control, 2, control);
    setLE(wmask, at + f.control, 2, PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE);
    setLE(wmask, at + f.addressLo, 4, 0xfffffffc);
    if (f.addressHi !== undefined) setLE(wmask, at + f.addressHi, 4, 0xffffffff);
    setLE(wmask, at + f.data, 2, 0xffff);
    if (f.mask !== undefined) setLE(wmask, at + f.mask, 4, this.options.vectors === 32 ? 0xffffffff : (1 << this.options.vectors) - 1);
  }

  /** True when [offset, offset+size) touches Message Control. */
  touchesControl(offset: number, size: number): boolean {
    const control = this.offset + this.fieldOffsets.control;
    return offset < control + 2 && offset + size > control;
  }

  /**
   * After a config write: clamp Multiple Message Enable to Multiple Message Capable, as QEMU's
   * msi_write_config does (§6.8.1.3 leaves a larger MME undefined).
   */
  afterWrite(config: Uint8Array): void {
    const at = this.offset + this.fieldOffsets.control;
    const control = getLE(config, at, 2);
    const mme = (control & PCI_MSI_FLAGS_QSIZE) >> 4;
    if (mme > this.log2Vectors) setLE(config, at, 2, (control & ~PCI_MSI_FLAGS_QSIZE) | (this.log2Vectors << 4));
  }

  /** The capability's current state, read from the config image. */
  state(config: Uint8Array): MsiState {
    const at = this.offset;
    const f = this.fieldOffsets;
    const control = getLE(config, at + f.control, 2);
    const lo = BigInt(getLE(config, at + f.addressLo, 4));
    const hi = f.addressHi !== undefined ? BigInt(getLE(config, at + f.addressHi, 4)) : 0n;
    return {
      enabled: (control & PCI_MSI_FLAGS_ENABLE) !== 0,
      address: (hi << 32n) | lo,
      data: getLE(config, at + f.data, 2),
      vectorsCapable: 1 << ((control & PCI_MSI_FLAGS_QMASK) >> 1),
      vectorsEnabled: 1 << ((control & PCI_MSI_FLAGS_QSIZE) >> 4),
      mask: f.mask !== undefined ? getLE(config, at + f.mask, 4) : 0,
    };
  }

  /**
   * The message that signals `vector`, or undefined when MSI is disabled or the vector was not
   * granted. With several vectors the function replaces the low log2(granted) bits of the data
   * with the vector number (§6.8.1.6; QEMU msi_get_message).
   */
  message(config: Uint8Array, vector: number): MsiMessage | undefined {
    const s = this.state(config);
    if (!s.enabled || !Number.isInteger(vector) || vector < 0 || vector >= s.vectorsEnabled) return undefined;
    const data = ((s.data & ~(s.vectorsEnabled - 1)) | vector) & 0xffff;
    return { address: s.address, data, masked: ((s.mask >>> vector) & 1) === 1 };
  }

  /** Sets the Pending bit of `vector` (per-vector masking only); a host calls it for a masked vector. */
  setPending(config: Uint8Array, vector: number, pending: boolean): void {
    const f = this.fieldOffsets;
    if (f.pending === undefined) return;
    const at = this.offset + f.pending;
    const bits = getLE(config, at, 4);
    setLE(config, at, 4, (pending ? bits | (1 << vector) : bits & ~(1 << vector)) >>> 0);
  }
}
