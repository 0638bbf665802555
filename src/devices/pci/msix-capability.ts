/**
 * MSI-X (PCI Local Bus Spec 3.0 §6.8.2) as a function presents it: the capability in config
 * space, and the vector table and Pending Bit Array in BAR space, which the host owns and
 * answers (a model never sees accesses to them).
 *
 * Behaviour follows QEMU's hw/pci/msix.c, which is what QEMU's devices present: Message
 * Control's MSI-X Enable and Function Mask are the writable bits (msix_init), every vector's
 * Mask Bit is set at reset (§6.8.2.9; msix_mask_all), a vector raised while masked — by its
 * Mask Bit or by Function Mask — sets its pending bit instead of sending (msix_notify), and a
 * vector whose mask is lifted while its bit is pending sends then (msix_handle_mask_update).
 * The PBA is read-only (§6.8.2.10). A message is a memory write: the host drops it when Bus
 * Master Enable is off, as QEMU's msi_send_message through the bus-master address space does.
 */
import type { AccessSize, MsixSpec } from "../../api/hosting.js";
import {
  PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF, PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_ENTRY_DATA, PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE, PCI_MSIX_ENTRY_UPPER_ADDR, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_PBA, PCI_MSIX_TABLE,
} from "../../api/pci-regs.js";

/** The memory write that signals one MSI-X vector. */
export interface MsixMessage {
  readonly address: bigint;
  readonly data: number;
}

/** Where an unmasked vector's message goes: the host's interrupt controller (or its stand-in). */
export type MsixSink = (vector: number, message: MsixMessage) => void;

/** The largest Table Size the 11-bit field holds (§6.8.2.3). */
export const MSIX_MAX_VECTORS = 2048;

/**
 * An MSI-X capability at `offset` of a config image, with its table and PBA. The config image
 * belongs to the config space; this object reads Message Control from it.
 */
export class MsixCapability {
  readonly size = PCI_CAP_MSIX_SIZEOF;
  /** Bytes of the table (16 per vector) and of the PBA (a QWORD per 64 vectors). */
  readonly tableSize: number;
  readonly pbaSize: number;
  private readonly table: Uint8Array;
  private readonly tableView: DataView;
  private readonly pba: Uint8Array;
  private sink: MsixSink | undefined;

  constructor(readonly offset: number, readonly spec: MsixSpec, private readonly config: Uint8Array) {
    const { vectors, tableOffset, pbaOffset } = spec;
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > MSIX_MAX_VECTORS) throw new RangeError(`MSI-X vectors must be 1..${MSIX_MAX_VECTORS}, not ${vectors}`);
    if (tableOffset % 8 !== 0 || pbaOffset % 8 !== 0) throw new RangeError("MSI-X table and PBA offsets must be QWORD aligned (§6.8.2.4)");
    this.tableSize = vectors * PCI_MSIX_ENTRY_SIZE;
    this.pbaSize = Math.ceil(vectors / 64) * 8;
    if (spec.tableBar === spec.pbaBar && tableOffset < pbaOffset + this.pbaSize && pbaOffset < tableOffset + this.tableSize) {
      throw new RangeError("the MSI-X table and PBA overlap");
    }
    this.table = new Uint8Array(this.tableSize);
    this.tableView = new DataView(this.table.buffer);
    this.pba = new Uint8Array(this.pbaSize);
    this.reset();
  }

  /** Writes the capability into `config` and its write mask into `wmask` (QEMU msix_init). */
  install(wmask: Uint8Array, next: number): void {
    const at = this.offset;
    const view = new DataView(this.config.buffer, this.config.byteOffset);
    this.config.fill(0, at, at + this.size);
    wmask.fill(0, at, at + this.size);
    this.config[at] = PCI_CAP_ID_MSIX;
    this.config[at + 1] = next;
    view.setUint16(at + PCI_MSIX_FLAGS, this.spec.vectors - 1, true);
    view.setUint32(at + PCI_MSIX_TABLE, (this.spec.tableOffset | this.spec.tableBar) >>> 0, true);
    view.setUint32(at + PCI_MSIX_PBA, (this.spec.pbaOffset | this.spec.pbaBar) >>> 0, true);
    const mask = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
    wmask[at + PCI_MSIX_FLAGS] = mask & 0xff;
    wmask[at + PCI_MSIX_FLAGS + 1] = mask >> 8;
  }

  /** Connects the host's delivery path. */
  connect(sink: MsixSink): void {
    this.sink = sink;
  }

  private get control(): number {
    return this.config[this.offset + PCI_MSIX_FLAGS]! | (this.config[this.offset + PCI_MSIX_FLAGS + 1]! << 8);
  }

  /** MSI-X Enable is set: interrupts go as MSI-X messages, not MSI or INTx (§6.8.2.3). */
  get enabled(): boolean {
    return (this.control & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  /** The vector's own Mask Bit (Vector Control bit 0). */
  vectorMasked(vector: number): boolean {
    return (this.tableView.getUint32(vector * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, true) & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** Masked by its Mask Bit or by Function Mask, or MSI-X disabled (QEMU msix_is_masked). */
  masked(vector: number): boolean {
    return !this.enabled || this.functionMasked || this.vectorMasked(vector);
  }

  pending(vector: number): boolean {
    return ((this.pba[vector >> 3]! >> (vector & 7)) & 1) === 1;
  }

  message(vector: number): MsixMessage {
    const at = vector * PCI_MSIX_ENTRY_SIZE;
    const lo = BigInt(this.tableView.getUint32(at + PCI_MSIX_ENTRY_LOWER_ADDR, true));
    const hi = BigInt(this.tableView.getUint32(at + PCI_MSIX_ENTRY_UPPER_ADDR, true));
    return { address: (hi << 32n) | lo, data: this.tableView.getUint32(at + PCI_MSIX_ENTRY_DATA, true) };
  }

  /**
   * The function signals `vector` (QEMU msix_notify): sent when unmasked, else held pending.
   * Returns false when MSI-X is not enabled (the host then uses MSI or INTx) or the vector is
   * past the table.
   */
  raise(vector: number): boolean {
    if (!this.enabled || !Number.isInteger(vector) || vector < 0 || vector >= this.spec.vectors) return false;
    if (this.functionMasked || this.vectorMasked(vector)) {
      this.setPending(vector, true);
      return true;
    }
    this.sink?.(vector, this.message(vector));
    return true;
  }

  /** After a write of Message Control: vectors unmasked by it send what they held pending. */
  controlWritten(): void {
    for (let v = 0; v < this.spec.vectors; v++) this.sendIfUnmaskedPending(v);
  }

  /** Which of the two structures [offset, offset+size) of BAR `bar` falls in, if either. */
  claims(bar: number, offset: bigint, size: number): "table" | "pba" | undefined {
    const { tableBar, tableOffset, pbaBar, pbaOffset } = this.spec;
    const inside = (start: number, length: number) => offset >= BigInt(start) && offset + BigInt(size) <= BigInt(start + length);
    if (bar === tableBar && inside(tableOffset, this.tableSize)) return "table";
    if (bar === pbaBar && inside(pbaOffset, this.pbaSize)) return "pba";
    return undefined;
  }

  /** A read of the table or PBA (after claims() said which); little-endian. */
  read(bar: number, offset: bigint, size: AccessSize): bigint {
    const where = this.claims(bar, offset, size);
    const bytes = where === "table" ? this.table : this.pba;
    const at = Number(offset) - (where === "table" ? this.spec.tableOffset : this.spec.pbaOffset);
    let value = 0n;
    for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]!);
    return value;
  }

  /** A write of the table (the PBA is read-only); a vector it unmasks sends what it held pending. */
  write(bar: number, offset: bigint, size: AccessSize, value: bigint): void {
    if (this.claims(bar, offset, size) !== "table") return;
    const at = Number(offset) - this.spec.tableOffset;
    for (let i = 0; i < size; i++) this.table[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    const first = Math.floor(at / PCI_MSIX_ENTRY_SIZE);
    const last = Math.floor((at + size - 1) / PCI_MSIX_ENTRY_SIZE);
    for (let v = first; v <= last; v++) this.sendIfUnmaskedPending(v);
  }

  /** Power-on: every vector masked with a zero message, nothing pending (§6.8.2.9). */
  reset(): void {
    this.table.fill(0);
    this.pba.fill(0);
    for (let v = 0; v < this.spec.vectors; v++) {
      this.tableView.setUint32(v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT, true);
    }
  }

  private setPending(vector: number, pending: boolean): void {
    const bit = 1 << (vector & 7);
    this.pba[vector >> 3] = pending ? this.pba[vector >> 3]! | bit : this.pba[vector >> 3]! & ~bit;
  }

  private sendIfUnmaskedPending(vector: number): void {
    if (this.masked(vector) || !this.pending(vector)) return;
    this.setPending(vector, false);
    this.sink?.(vector, this.message(vector));
  }
}
