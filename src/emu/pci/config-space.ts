/**
 * The physical config space of an emulated PCI function: what the host kernel reads with
 * pci_read_config_*, before vfio-pci virtualises it for userspace (vfio/pci-config.ts).
 *
 * Layout follows what QEMU builds for the same devices (header type 0 or 1, capabilities from
 * 0x40 up: MSI, PCI Express; ACS as an extended capability at 0x148 on root ports), so that
 * vfio-pci's view of it matches the guest's. Header write masks are QEMU's (hw/pci/pci.c
 * pci_init_wmask, pci_init_w1cmask), the same as devices/pci/config-space.ts serves for a type 0
 * function: Command 0x0507 (I/O, memory, master, SERR#, INTx disable), Cache Line Size and
 * Interrupt Line read-write, Status error bits write-1-to-clear (PCI Local Bus Spec 3.0 §6.2).
 * MSI follows §6.8.1. Register constants come from api/constants.ts and devices/pci/registers.ts.
 */
import type { BarSpec, DeviceModel } from "../../api/hosting.js";
import {
  PCI_BASE_ADDRESS_0, PCI_CAPABILITY_LIST, PCI_CAP_ID_EXP, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, PCI_CLASS_REVISION, PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_STATUS, PCI_STATUS_CAP_LIST, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "../../api/constants.js";
import {
  PCI_CACHE_LINE_SIZE, PCI_COMMAND_SERR, PCI_CONFIG_SPACE_SIZE, PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE,
  PCI_STATUS_DETECTED_PARITY, PCI_STATUS_INTERRUPT, PCI_STATUS_PARITY, PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT, PCI_STATUS_SIG_SYSTEM_ERROR, PCI_STATUS_SIG_TARGET_ABORT,
} from "../../devices/pci/registers.js";


/** PCI Express capability "Device/Port Type" values (PCIe Base Spec §7.5.3.2; PCI_EXP_TYPE_* in pci_regs.h). */
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
export const PCI_EXP_TYPE_LEG_END = 0x1;
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
export const PCI_EXP_TYPE_RC_END = 0x9;
export const PCI_EXP_TYPE_RC_EC = 0xa;

export const PCI_PRIMARY_BUS = 0x18;
export const PCI_SECONDARY_BUS = 0x19;
export const PCI_SUBORDINATE_BUS = 0x1a;
export const PCI_ROM_ADDRESS1 = 0x38;
/** MSI capability registers (pci_regs.h). */
export const PCI_MSI_FLAGS = 2;
export const PCI_MSI_ADDRESS_LO = 4;
export const PCI_MSI_ADDRESS_HI = 8;
export const PCI_MSI_DATA_32 = 8;
export const PCI_MSI_DATA_64 = 12;
/** ACS extended capability (PCIe Base Spec §7.7.8; pci_regs.h). */
export const PCI_EXT_CAP_ID_ACS = 0x0d;
export const PCI_ACS_CAP = 4;
export const PCI_ACS_CTRL = 6;
export const PCI_ACS_SV = 0x01;
export const PCI_ACS_RR = 0x04;
export const PCI_ACS_CR = 0x08;
export const PCI_ACS_UF = 0x10;
/** The flags pci_device_group() requires along the path: REQ_ACS_FLAGS in drivers/iommu/iommu.c. */
export const REQ_ACS_FLAGS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

/** Command bits software may write: QEMU pci_init_wmask (I/O, memory, master, INTx disable, SERR#). */
const COMMAND_WMASK = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;
/** Status error bits cleared by writing 1 (PCI 3.0 §6.2.3; QEMU pci_init_w1cmask). */
const STATUS_W1CMASK =
  PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY;

/** How a function sits in the topology, which decides its header and capabilities. */
export interface ConfigRole {
  /** Header type 1 for bridges (PCI-PCI bridges and PCIe ports), else 0. */
  readonly bridge: boolean;
  /** PCI Express Device/Port Type, or undefined for a conventional PCI function. */
  readonly pcieType: number | undefined;
  /** An ACS capability with SV, RR, CR and UF enabled (as Linux's pci_enable_acs leaves a root port). */
  readonly acs: boolean;
  readonly multifunction: boolean;
  /** Bus numbers of a bridge: primary, secondary, subordinate. */
  readonly busNumbers?: readonly [number, number, number];
  /** Addresses the firmware assigned to BAR0..5 (0n where unimplemented). */
  readonly barAddresses: readonly bigint[];
  readonly interruptLine: number;
}

/** A BAR's type bits in the low nibble (PCI Local Bus Spec 3.0 §6.2.5.1). */
export function barFlags(spec: BarSpec): number {
  if (spec.kind === "io") return 0x1;
  return (spec.kind === "memory64" ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0);
}

/** The physical config space of one function, with the hardware's write semantics. */
export class ConfigSpace {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly writeMask: Uint8Array;
  private readonly w1cMask: Uint8Array;
  /** Offset of the MSI capability, 0 when there is none. */
  readonly msiCap: number;
  /** Offset of the MSI-X capability, 0 when there is none. */
  readonly msixCap: number;
  /** Offset of the PCI Express capability, 0 when conventional. */
  readonly pcieCap: number;
  /** Offset of the ACS extended capability, 0 when absent. */
  readonly acsCap: number;
  private readonly bars: readonly (BarSpec | undefined)[];

  constructor(model: DeviceModel, role: ConfigRole) {
    const size = role.pcieType === undefined ? 256 : 4096;
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.writeMask = new Uint8Array(size);
    this.w1cMask = new Uint8Array(size);
    this.bars = role.bridge ? model.bars.slice(0, 2) : model.bars;
    const id = model.identity;
    this.w16(PCI_VENDOR_ID, id.vendorId);
    this.w16(PCI_DEVICE_ID, id.deviceId);
    this.w32(PCI_CLASS_REVISION, ((id.classCode & 0xffffff) << 8) | (id.revision & 0xff));
    this.bytes[PCI_HEADER_TYPE] = (role.bridge ? 1 : 0) | (role.multifunction ? 0x80 : 0);
    this.mask16(PCI_COMMAND, COMMAND_WMASK);
    this.w1cMask[PCI_STATUS] = STATUS_W1CMASK & 0xff;
    this.w1cMask[PCI_STATUS + 1] = (STATUS_W1CMASK >> 8) & 0xff;
    this.writeMask[PCI_CACHE_LINE_SIZE] = 0xff;
    if (!role.bridge) {
      this.w16(PCI_SUBSYSTEM_VENDOR_ID, id.subsystemVendorId);
      this.w16(PCI_SUBSYSTEM_ID, id.subsystemId);
    } else if (role.busNumbers) {
      const [primary, secondary, subordinate] = role.busNumbers;
      this.bytes[PCI_PRIMARY_BUS] = primary;
      this.bytes[PCI_SECONDARY_BUS] = secondary;
      this.bytes[PCI_SUBORDINATE_BUS] = subordinate;
    }
    for (let i = 0; i < this.bars.length; i++) {
      const spec = this.bars[i];
      if (!spec) continue;
      const address = role.barAddresses[i] ?? 0n;
      this.w32(PCI_BASE_ADDRESS_0 + 4 * i, Number(address & 0xfffffff0n) | barFlags(spec));
      if (spec.kind === "memory64") this.w32(PCI_BASE_ADDRESS_0 + 4 * (i + 1), Number((address >> 32n) & 0xffffffffn));
    }
    this.bytes[PCI_INTERRUPT_PIN] = model.intxPin;
    this.bytes[PCI_INTERRUPT_LINE] = model.intxPin ? role.interruptLine : 0;
    this.writeMask[PCI_INTERRUPT_LINE] = 0xff;

    // Capabilities from 0x40, in the order QEMU adds them: PCI Express first (pcie_*_cap_init
    // in realize), then MSI (msi_init). Each takes the next free dword-aligned offset.
    let next = 0x40;
    const chain: number[] = [];
    let pcieCap = 0;
    if (role.pcieType !== undefined) {
      pcieCap = next;
      this.bytes[pcieCap] = PCI_CAP_ID_EXP;
      // Capability version 2, Device/Port Type in bits 7:4 (PCIe Base Spec §7.5.3.2).
      this.w16(pcieCap + 2, 0x2 | (role.pcieType << 4) | (role.pcieType === PCI_EXP_TYPE_ROOT_PORT ? 0x100 : 0));
      chain.push(pcieCap);
      next += 0x3c;
    }
    let msiCap = 0;
    if (model.msiVectors > 0) {
      msiCap = next;
      this.bytes[msiCap] = PCI_CAP_ID_MSI;
      const mmc = Math.ceil(Math.log2(model.msiVectors));
      this.w16(msiCap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT | (mmc << 1));
      this.mask16(msiCap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
      this.mask32(msiCap + PCI_MSI_ADDRESS_LO, 0xfffffffc);
      this.mask32(msiCap + PCI_MSI_ADDRESS_HI, 0xffffffff);
      this.mask16(msiCap + PCI_MSI_DATA_64, 0xffff);
      chain.push(msiCap);
      next += 0x10;
    }
    let msixCap = 0;
    if (model.msix) {
      // MSI-X (PCI Local Bus Spec 3.0 §6.8.2): Table Size is N-1; table and PBA offsets carry their BIR.
      msixCap = next;
      this.bytes[msixCap] = PCI_CAP_ID_MSIX;
      this.w16(msixCap + 2, (model.msix.vectors - 1) & 0x7ff);
      this.mask16(msixCap + 2, 0xc000);
      this.w32(msixCap + 4, (model.msix.tableOffset & ~7) | model.msix.tableBar);
      this.w32(msixCap + 8, (model.msix.pbaOffset & ~7) | model.msix.pbaBar);
      chain.push(msixCap);
      next += 0x0c;
    }
    if (!role.bridge) {
      // QEMU's pci_init_wmask makes the device-specific bytes after the header read-write;
      // pci_add_capability takes a capability's bytes back (as devices/pci/config-space.ts does).
      this.writeMask.fill(0xff, next, PCI_CONFIG_SPACE_SIZE);
      // A 64-bit MSI capability without per-vector masking is 14 bytes (msi_cap_sizeof); the
      // two bytes up to the next dword stay device-specific, read-write as on QEMU's edu.
      if (msiCap) this.writeMask.fill(0xff, msiCap + PCI_MSI_DATA_64 + 2, msiCap + 0x10);
    }
    if (chain.length) {
      this.w16(PCI_STATUS, PCI_STATUS_CAP_LIST);
      this.bytes[PCI_CAPABILITY_LIST] = chain[0]!;
      for (let i = 0; i + 1 < chain.length; i++) this.bytes[chain[i]! + 1] = chain[i + 1]!;
    }
    let acsCap = 0;
    if (role.acs && size > 256) {
      // QEMU's generic root port puts ACS at 0x148 (GEN_PCIE_ROOT_PORT_ACS_OFFSET), after AER.
      acsCap = 0x148;
      this.w32(acsCap, PCI_EXT_CAP_ID_ACS | (1 << 16));
      this.w16(acsCap + PCI_ACS_CAP, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
      this.w16(acsCap + PCI_ACS_CTRL, REQ_ACS_FLAGS);
      // 0x100 holds AER in QEMU's root port; a header with AER's id that links on to ACS keeps the list the same shape.
      this.w32(256, 0x0001 | (2 << 16) | (acsCap << 20));
    }
    this.msiCap = msiCap;
    this.msixCap = msixCap;
    this.pcieCap = pcieCap;
    this.acsCap = acsCap;
  }

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > this.bytes.length) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return size === 1 ? this.bytes[offset]! : size === 2 ? this.view.getUint16(offset, true) : this.view.getUint32(offset, true);
  }

  /**
   * A config write as the hardware takes it (QEMU pci_default_write_config, byte by byte): only
   * writable bits change, write-1-to-clear bits the value sets are cleared, BARs keep their size alignment.
   */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at < 0 || at >= this.bytes.length) continue;
      const byte = (value >>> (8 * i)) & 0xff;
      if (this.isBarByte(at)) {
        this.writeBarByte(at, byte);
        continue;
      }
      const mask = this.writeMask[at]!;
      this.bytes[at] = ((this.bytes[at]! & ~mask) | (byte & mask)) & ~(byte & this.w1cMask[at]!);
    }
    const control = this.msiCap + PCI_MSI_FLAGS;
    if (this.msiCap && offset < control + 2 && offset + size > control) {
      // QEMU msi_write_config: a Multiple Message Enable above Multiple Message Capable is clamped to it.
      const flags = this.view.getUint16(control, true);
      const mmc = (flags & PCI_MSI_FLAGS_QMASK) >> 1;
      if ((flags & PCI_MSI_FLAGS_QSIZE) >> 4 > mmc) this.w16(control, (flags & ~PCI_MSI_FLAGS_QSIZE) | (mmc << 4));
    }
  }

  get command(): number {
    return this.view.getUint16(PCI_COMMAND, true);
  }

  /** Sets or clears the Interrupt Status bit, as the device asserts or deasserts INTx. */
  setInterruptStatus(asserted: boolean): void {
    const status = this.view.getUint16(PCI_STATUS, true);
    this.w16(PCI_STATUS, asserted ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
  }

  /** MSI as the device's capability is programmed: enabled, message address and data. */
  msi(): { enabled: boolean; address: bigint; data: number } {
    if (!this.msiCap) return { enabled: false, address: 0n, data: 0 };
    const flags = this.view.getUint16(this.msiCap + PCI_MSI_FLAGS, true);
    const lo = BigInt(this.view.getUint32(this.msiCap + PCI_MSI_ADDRESS_LO, true));
    const hi = BigInt(this.view.getUint32(this.msiCap + PCI_MSI_ADDRESS_HI, true));
    return {
      enabled: (flags & PCI_MSI_FLAGS_ENABLE) !== 0,
      address: (hi << 32n) | lo,
      data: this.view.getUint16(this.msiCap + PCI_MSI_DATA_64, true),
    };
  }

  private isBarByte(at: number): boolean {
    const end = PCI_BASE_ADDRESS_0 + 4 * this.bars.length;
    return at >= PCI_BASE_ADDRESS_0 && at < end;
  }

  private writeBarByte(at: number, byte: number): void {
    const index = Math.floor((at - PCI_BASE_ADDRESS_0) / 4);
    const spec = this.bars[index];
    const lowerOf64 = index > 0 ? this.bars[index - 1] : undefined;
    let sizeMask: bigint;
    let flags = 0;
    let shift = 0n;
    if (spec) {
      sizeMask = ~(spec.size - 1n);
      flags = barFlags(spec);
    } else if (lowerOf64 && lowerOf64.kind === "memory64") {
      sizeMask = ~(lowerOf64.size - 1n);
      shift = 32n;
    } else {
      return; // unimplemented BAR: hardwired to zero
    }
    const dwordAt = PCI_BASE_ADDRESS_0 + 4 * index;
    const current = this.view.getUint32(dwordAt, true);
    const byteShift = (at - dwordAt) * 8;
    const proposed = ((current & ~(0xff << byteShift)) | (byte << byteShift)) >>> 0;
    const mask = Number((sizeMask >> shift) & 0xffffffffn) >>> 0;
    this.w32(dwordAt, (((proposed & mask) >>> 0) | (shift === 0n ? flags : 0)) >>> 0);
  }

  private w16(offset: number, value: number): void {
    this.view.setUint16(offset, value, true);
  }
  private w32(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }
  private mask16(offset: number, mask: number): void {
    this.writeMask[offset] = mask & 0xff;
    this.writeMask[offset + 1] = (mask >> 8) & 0xff;
  }
  private mask32(offset: number, mask: number): void {
    for (let i = 0; i < 4; i++) this.writeMask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }
}
