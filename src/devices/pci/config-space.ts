/**
 * A PCI function's configuration space, built from a DeviceModel's description and served the
 * way the function itself serves it: a type 0 header (PCI Local Bus Spec 3.0 §6.1, §6.2), BARs
 * that answer size probing, a capability list with MSI (§6.8.1), and interrupt pin and line.
 *
 * Writes follow QEMU's pci_default_write_config byte by byte: each byte keeps its read-only
 * bits, takes the writable bits (wmask) from the value, and clears the write-1-to-clear bits
 * (w1cmask) the value sets. The masks are QEMU's (hw/pci/pci.c pci_init_wmask/w1cmask), so a
 * model here answers config cycles as the same device in QEMU does. This is the device's own
 * view: vfio-pci's virtualisation (the emulated machine's, or the kernel's) sits on top of it.
 */
import { struct, u8, u16, u32, bytes } from "../../abi/struct.js";
import {
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_LINE,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_BASE_ADDRESS_0,
} from "../../api/constants.js";
import type { DeviceModel } from "../../api/hosting.js";
import { layoutBars, type BarSlot } from "./bar.js";
import { MsiCapability, type MsiMessage, type MsiState } from "./msi-capability.js";
import {
  PCI_CACHE_LINE_SIZE,
  PCI_COMMAND_SERR,
  PCI_CONFIG_HEADER_SIZE,
  PCI_CONFIG_SPACE_SIZE,
  PCIE_CONFIG_SPACE_SIZE,
  PCI_STATUS_DETECTED_PARITY,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_PARITY,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT,
  PCI_STATUS_SIG_SYSTEM_ERROR,
  PCI_STATUS_SIG_TARGET_ABORT,
} from "./registers.js";

/** The type 0 configuration header (PCI 3.0 §6.1, Figure 6-1). */
export const pciType0HeaderLayout = struct(
  "pci_type0_header",
  {
    vendorId: u16, deviceId: u16, command: u16, status: u16,
    revision: u8, progIf: u8, subClass: u8, baseClass: u8,
    cacheLineSize: u8, latencyTimer: u8, headerType: u8, bist: u8,
    bar0: u32, bar1: u32, bar2: u32, bar3: u32, bar4: u32, bar5: u32,
    cardbusCis: u32, subsystemVendorId: u16, subsystemId: u16, romAddress: u32,
    capabilitiesPointer: u8, reserved: bytes(7),
    interruptLine: u8, interruptPin: u8, minGnt: u8, maxLat: u8,
  },
  { packed: true },
);

/** What config space is built from: the identity and resources of a DeviceModel. */
export type PciFunctionDescription = Pick<DeviceModel, "identity" | "bars" | "msiVectors" | "intxPin">;

export interface ConfigSpaceOptions {
  /** 256 bytes (conventional PCI, as QEMU's edu) or 4096 (PCIe extended space). Default 256. */
  readonly size?: 256 | 4096;
  /** MSI with a 64-bit address (default true, as QEMU edu's msi_init(.., msi64bit=true, ..)). */
  readonly msi64bit?: boolean;
  /** MSI per-vector masking (default false, as QEMU edu). */
  readonly msiPerVectorMask?: boolean;
}

/** Command register bits software may write (QEMU pci_init_wmask: I/O, memory, master, SERR, INTx disable). */
const COMMAND_WMASK = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;
/** Status error bits that software clears by writing 1 (PCI 3.0 §6.2.3; QEMU pci_init_w1cmask). */
const STATUS_W1CMASK =
  PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY;

function getLE(b: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + b[offset + i]!;
  return value;
}
function setLE(b: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) {
    b[offset + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}

/** Called after every config write, with the range written. */
export type ConfigWriteListener = (offset: number, size: number) => void;

/**
 * A function's config space. A host routes config cycles (or vfio-user REGION_READ/WRITE of
 * the config region) to read()/write(), and asks it whether the function may master the bus
 * and how to deliver an interrupt.
 *
 * @example
 * const config = new PciConfigSpace(edu);
 * config.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
 * config.busMasterEnabled; // true
 */
export class PciConfigSpace {
  /** 256 or 4096. */
  readonly size: number;
  readonly bars: readonly BarSlot[];
  /** The MSI capability, where the function has one. */
  readonly msi: MsiCapability | undefined;
  private readonly config: Uint8Array;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly powerOn: Uint8Array;
  private readonly listeners = new Set<ConfigWriteListener>();

  constructor(description: PciFunctionDescription, options: ConfigSpaceOptions = {}) {
    const size = options.size ?? PCI_CONFIG_SPACE_SIZE;
    if (size !== PCI_CONFIG_SPACE_SIZE && size !== PCIE_CONFIG_SPACE_SIZE) throw new RangeError(`config space is 256 or 4096 bytes, not ${String(size)}`);
    const { identity, intxPin, msiVectors } = description;
    if (!Number.isInteger(intxPin) || intxPin < 0 || intxPin > 4) throw new RangeError(`interrupt pin must be 0..4, not ${intxPin}`);
    this.size = size;
    this.config = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
    this.bars = layoutBars(description.bars);

    const capabilities = msiVectors > 0;
    pciType0HeaderLayout.encode(
      {
        vendorId: identity.vendorId,
        deviceId: identity.deviceId,
        status: capabilities ? PCI_STATUS_CAP_LIST : 0,
        revision: identity.revision,
        progIf: identity.classCode & 0xff,
        subClass: (identity.classCode >> 8) & 0xff,
        baseClass: (identity.classCode >> 16) & 0xff,
        subsystemVendorId: identity.subsystemVendorId,
        subsystemId: identity.subsystemId,
        interruptPin: intxPin,
      },
      this.config,
    );
    setLE(this.wmask, PCI_COMMAND, 2, COMMAND_WMASK);
    setLE(this.w1cmask, PCI_STATUS, 2, STATUS_W1CMASK);
    this.wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
    for (const bar of this.bars) {
      const at = PCI_BASE_ADDRESS_0 + 4 * bar.index;
      setLE(this.config, at, 4, bar.typeBits);
      setLE(this.wmask, at, 4, bar.lowMask);
      if (bar.highMask !== undefined) setLE(this.wmask, at + 4, 4, bar.highMask);
    }
    // QEMU makes the device-specific part of conventional config space plain read-write
    // memory (pci_init_wmask); a capability then takes its bytes back (pci_add_capability).
    this.wmask.fill(0xff, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE);
    if (capabilities) {
      // The first capability sits right after the header, as QEMU's pci_find_space places it.
      this.msi = new MsiCapability(PCI_CONFIG_HEADER_SIZE, {
        vectors: msiVectors,
        address64: options.msi64bit ?? true,
        perVectorMask: options.msiPerVectorMask ?? false,
      });
      this.msi.install(this.config, this.wmask, 0);
      this.config[PCI_CAPABILITY_LIST] = this.msi.offset;
    } else {
      this.msi = undefined;
    }
    // Extended space (0x100..0xfff) of a function with no extended capabilities: a zero header
    // at 0x100 ends the (empty) list (PCIe Base Spec 3.0 §7.9.1), and nothing is writable.
    this.powerOn = this.config.slice();
  }

  private check(offset: number, size: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > this.size) {
      throw new RangeError(`config access of ${size} bytes at 0x${offset.toString(16)} is outside ${this.size} bytes`);
    }
  }

  /** Reads a 1-, 2- or 4-byte little-endian register at `offset`. Throws RangeError past the end. */
  read(offset: number, size: 1 | 2 | 4): number {
    this.check(offset, size);
    return getLE(this.config, offset, size);
  }

  /** Writes a 1-, 2- or 4-byte little-endian value at `offset`, through the write masks. */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.check(offset, size);
    const data = new Uint8Array(size);
    setLE(data, 0, size, value >>> 0);
    this.writeBytes(offset, data);
  }

  /** Reads `length` bytes at `offset` (a copy). */
  readBytes(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    return this.config.slice(offset, offset + length);
  }

  /** Writes bytes at `offset` through the write masks (QEMU pci_default_write_config, byte by byte). */
  writeBytes(offset: number, data: Uint8Array): void {
    this.check(offset, data.length);
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      const value = data[i]!;
      const wmask = this.wmask[at]!;
      this.config[at] = ((this.config[at]! & ~wmask) | (value & wmask)) & ~(value & this.w1cmask[at]!);
    }
    if (this.msi?.touchesControl(offset, data.length)) this.msi.afterWrite(this.config);
    for (const listener of this.listeners) listener(offset, data.length);
  }

  /** Calls `listener` after every write. Returns a function that removes it. */
  onWrite(listener: ConfigWriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get command(): number {
    return getLE(this.config, PCI_COMMAND, 2);
  }
  get status(): number {
    return getLE(this.config, PCI_STATUS, 2);
  }
  /** Memory Space Enable: the function answers its memory BARs (PCI 3.0 §6.2.2). */
  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND_MEMORY) !== 0;
  }
  get ioEnabled(): boolean {
    return (this.command & PCI_COMMAND_IO) !== 0;
  }
  /** Bus Master Enable: the function may issue DMA, and MSI writes (which are DMA). */
  get busMasterEnabled(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }
  /** Interrupt Disable: the function must not assert INTx (PCI 3.0 §6.2.2). */
  get intxDisabled(): boolean {
    return (this.command & PCI_COMMAND_INTX_DISABLE) !== 0;
  }
  /** Interrupt pin: 0 none, 1..4 INTA#..INTD#. */
  get interruptPin(): number {
    return this.config[0x3d]!;
  }

  /**
   * The address BAR `index` is programmed with (type bits removed, both halves of a 64-bit
   * BAR), or undefined where the BAR is not implemented. While software probes the size the
   * value is the size mask, not an address: decode only with memory/I/O space enabled.
   */
  barAddress(index: number): bigint | undefined {
    const bar = this.bars.find((b) => b.index === index);
    if (bar === undefined) return undefined;
    const at = PCI_BASE_ADDRESS_0 + 4 * index;
    const low = BigInt(getLE(this.config, at, 4) & bar.lowMask) & 0xffff_ffffn;
    const high = bar.highMask !== undefined ? BigInt(getLE(this.config, at + 4, 4)) : 0n;
    return (high << 32n) | low;
  }

  /** MSI state, or undefined without an MSI capability. */
  msiState(): MsiState | undefined {
    return this.msi?.state(this.config);
  }

  /**
   * How to signal `vector` by MSI: the message to write, or undefined when MSI is not enabled
   * or the vector was not granted (the host then uses INTx, as QEMU's msi_enabled() checks).
   * The host must still drop the write when bus mastering is off (an MSI is a DMA write).
   */
  msiMessage(vector: number): MsiMessage | undefined {
    return this.msi?.message(this.config, vector);
  }

  /** Sets or clears the Pending bit of a masked MSI vector (only with per-vector masking). */
  setMsiPending(vector: number, pending: boolean): void {
    this.msi?.setPending(this.config, vector, pending);
  }

  /**
   * Reflects the function's INTx line in Status bit 3 (Interrupt Status, PCI 3.0 §6.2.3), which
   * is set while the function asserts INTx whether or not Interrupt Disable masks it.
   */
  setInterruptStatus(asserted: boolean): void {
    const status = this.status;
    setLE(this.config, PCI_STATUS, 2, asserted ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
  }

  /** Whether the function's INTx reaches the interrupt controller: asserted and not disabled. */
  get intxOutput(): boolean {
    return (this.status & PCI_STATUS_INTERRUPT) !== 0 && !this.intxDisabled && this.interruptPin !== 0;
  }

  /** Back to the power-on image (a function-level reset: command 0, BARs and MSI cleared). */
  reset(): void {
    this.config.set(this.powerOn);
  }
}
