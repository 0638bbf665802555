/**
 * The hosting interface of device models (devices/). A model is identity + BARs + interrupt
 * lines + a DMA port; a host (the emulated machine behind its IOMMU, the vfio-user server
 * behind a client's DMA mappings) gives it a DeviceHost and routes BAR accesses to it.
 * Config space (with the MSI and MSI-X capabilities, the MSI-X table and PBA) is built from
 * the model's description by devices/pci/, which both hosts use.
 */
import { VfioError } from "./errors.js";

/** The identity registers of a PCI function's config header (PCI Local Bus Spec 3.0 §6.2.1). */
export interface PciIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  /** 24 bits: base class, sub-class, programming interface. */
  readonly classCode: number;
  readonly revision: number;
}

export interface BarSpec {
  readonly size: bigint;
  readonly kind: "memory32" | "memory64" | "io";
  readonly prefetchable: boolean;
  /**
   * The BAR is plain memory (a framebuffer, a shared window), not registers: the host owns
   * the bytes, answers accesses from them, may let a client map them (vfio-user: a region
   * offered with an fd), and gives the model the same bytes through DeviceHost.barMemory.
   * Models whose BARs are registers leave it unset; barRead/barWrite are not called for it.
   */
  readonly memory?: boolean;
}

export type AccessSize = 1 | 2 | 4 | 8;

/**
 * Where an MSI-X capability puts its vector table and pending-bit array. The host owns both
 * (devices/pci/msix-capability.ts): it answers every access to them, masks and holds vectors
 * pending as PCI 3.0 §6.8.2 says, and never passes those accesses to the model's barRead/barWrite.
 */
export interface MsixSpec {
  readonly vectors: number;
  /** BAR index (BIR) and offset of the table, then of the PBA. */
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
}

/** A device model: what a host needs to present it as a PCI function. */
export interface DeviceModel {
  /** A short name: "edu". */
  readonly name: string;
  readonly identity: PciIdentity;
  /** BAR0..BAR5; undefined where a BAR is not implemented (or is the upper half of a 64-bit BAR). */
  readonly bars: readonly (BarSpec | undefined)[];
  /** Vectors of the MSI capability; 0 for none. */
  readonly msiVectors: number;
  /** An MSI-X capability, where the device has one (PCI Local Bus Spec 3.0 §6.8.2). */
  readonly msix?: MsixSpec;
  /** INTx pin: 0 none, 1..4 INTA..INTD. */
  readonly intxPin: number;
  /** Called once by the host before any access. */
  attach(host: DeviceHost): void;
  /** A read of `size` bytes at `offset` of BAR `bar`; little-endian value. */
  barRead(bar: number, offset: bigint, size: AccessSize): bigint;
  /** A write of `size` bytes at `offset` of BAR `bar`. Posted: the model must not block. */
  barWrite(bar: number, offset: bigint, size: AccessSize, value: bigint): void;
  /** Function-level reset: back to power-on state, pending work dropped. */
  reset(): void;
}

/** What a host offers the model it hosts. */
export interface DeviceHost {
  /** Reads device-visible memory at a bus address; rejects with DmaFaultError when blocked. */
  dmaRead(address: bigint, length: number): Promise<Uint8Array>;
  /** Writes device-visible memory at a bus address; rejects with DmaFaultError when blocked. */
  dmaWrite(address: bigint, data: Uint8Array): Promise<void>;
  /**
   * Raises interrupt `vector`, as the function's config decides (QEMU devices' order): an
   * MSI-X message for table entry `vector` when MSI-X is enabled (held pending in the PBA while
   * the entry or the function is masked, sent when unmasked), else an MSI when MSI is enabled,
   * else asserts INTx. Messages need Bus Master Enable. Never blocks, never re-enters the model.
   */
  raiseIrq(vector: number): void;
  /** Deasserts INTx for `vector` (MSI is edge-triggered: nothing to do). */
  lowerIrq(vector: number): void;
  /** The bytes of a BAR declared `memory`, where the host supports memory BARs. */
  barMemory?(bar: number): Uint8Array | undefined;
}

/** Why a DMA was blocked. */
export type DmaFaultReason = "not-mapped" | "no-write-permission" | "no-read-permission" | "bus-master-disabled" | "out-of-range";

/** A device's DMA blocked by the IOMMU or by the host; the model sees it as a failed transfer. */
export class DmaFaultError extends VfioError {
  override name = "DmaFaultError";
  constructor(
    readonly address: bigint,
    readonly access: "read" | "write",
    readonly reason: DmaFaultReason,
  ) {
    super(`DMA ${access} at 0x${address.toString(16)} blocked: ${reason}`, "EDMAFAULT");
  }
}
