/**
 * A PCI function's configuration space, the one implementation both hosts use: the emulated
 * machine's physical config space (what the host kernel reads, under vfio-pci's
 * virtualisation) and what the vfio-user server serves. A type 0 header (PCI Local Bus Spec 3.0
 * §6.1, §6.2) or a type 1 one (PCI Bridge Spec 1.2 §3.2), BARs that answer size probing and
 * carry the addresses firmware assigned, and a capability list from 0x40 in the order QEMU
 * adds them: PCI Express (PCIe Base Spec 3.0 §7.8), MSI (§6.8.1), MSI-X (§6.8.2); ACS as an
 * extended capability (PCIe §7.16) at the offset QEMU's root ports use.
 *
 * Writes follow QEMU's pci_default_write_config byte by byte: each byte keeps its read-only
 * bits, takes the writable bits (wmask) from the value, and clears the write-1-to-clear bits
 * (w1cmask) the value sets. The masks are QEMU's (header.ts), so a model here answers config
 * cycles as the same device in QEMU does. This is the device's own view: vfio-pci's
 * virtualisation (the emulated machine's, or the kernel's) sits on top of it.
 */
import {
  PCI_ACS_CAP, PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF, PCI_BASE_ADDRESS_0, PCI_CAPABILITY_LIST,
  PCI_CAP_ID_EXP, PCI_CFG_SPACE_EXP_SIZE, PCI_CFG_SPACE_SIZE, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO,
  PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_EXP_FLAGS, PCI_EXP_FLAGS_SLOT, PCI_EXP_TYPE_ROOT_PORT, PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_ERR, PCI_HEADER_TYPE, PCI_INTERRUPT_PIN, PCI_MSIX_FLAGS, PCI_STATUS, PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT, PCI_STD_HEADER_SIZEOF,
} from "../../api/pci-regs.js";
import type { DeviceModel } from "../../api/hosting.js";
import { layoutBars, type BarSlot } from "./bar.js";
import { getLE, installHeader, setLE } from "./header.js";
import { MsiCapability, type MsiMessage, type MsiState } from "./msi-capability.js";
import { MsixCapability } from "./msix-capability.js";

export { pciType0HeaderLayout } from "./header.js";

/** What config space is built from: the identity and resources of a DeviceModel. */
export type PciFunctionDescription = Pick<DeviceModel, "identity" | "bars" | "msiVectors" | "intxPin"> & Partial<Pick<DeviceModel, "msix">>;

/** How the function sits in its machine: header type, PCIe role, what firmware assigned. */
export interface ConfigSpaceOptions {
  /** 256 (conventional PCI) or 4096 (PCIe extended space). Default 4096 with `pcieType`, else 256. */
  readonly size?: 256 | 4096;
  /** MSI with a 64-bit address (default true, as QEMU edu's msi_init(.., msi64bit=true, ..)). */
  readonly msi64bit?: boolean;
  /** MSI per-vector masking (default false, as QEMU edu). */
  readonly msiPerVectorMask?: boolean;
  /** A type 1 header (PCI-PCI bridge, PCIe port): BAR0 and BAR1 only. Default false. */
  readonly bridge?: boolean;
  /** Header Type bit 7: the slot has other functions. */
  readonly multifunction?: boolean;
  /** A bridge's primary, secondary and subordinate bus numbers. */
  readonly busNumbers?: readonly [number, number, number];
  /** A PCI Express capability with this Device/Port Type (PCI_EXP_TYPE_*); absent: conventional PCI. */
  readonly pcieType?: number;
  /** An ACS extended capability with SV, RR, CR and UF enabled (as Linux's pci_enable_acs leaves a root port). */
  readonly acs?: boolean;
  /** Addresses firmware assigned to BAR0..5 (absent or 0n: unassigned). */
  readonly barAddresses?: readonly bigint[];
  /** The Interrupt Line firmware wrote (functions with an INTx pin). */
  readonly interruptLine?: number;
}

/** QEMU's PCI Express capability, version 2 (PCI_EXP_VER2_SIZEOF in hw/pci/pcie_regs.h). */
const PCIE_CAP_SIZE = 0x3c;
/** Where QEMU's generic root port puts ACS (GEN_PCIE_ROOT_PORT_ACS_OFFSET), after AER at 0x100. */
const ACS_OFFSET = 0x148;
/** The flags pci_device_group() requires along the path: REQ_ACS_FLAGS in drivers/iommu/iommu.c. */
export const REQ_ACS_FLAGS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

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
  /** The MSI-X capability with its table and PBA, where the function has one. */
  readonly msix: MsixCapability | undefined;
  /** Offsets of the capabilities, 0 where absent. */
  readonly pcieCap: number;
  readonly acsCap: number;
  private readonly config: Uint8Array;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly powerOn: Uint8Array;
  private readonly listeners = new Set<ConfigWriteListener>();

  constructor(description: PciFunctionDescription, options: ConfigSpaceOptions = {}) {
    const size = options.size ?? (options.pcieType !== undefined ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE);
    if (size !== PCI_CFG_SPACE_SIZE && size !== PCI_CFG_SPACE_EXP_SIZE) throw new RangeError(`config space is 256 or 4096 bytes, not ${String(size)}`);
    const { identity, intxPin, msiVectors } = description;
    if (!Number.isInteger(intxPin) || intxPin < 0 || intxPin > 4) throw new RangeError(`interrupt pin must be 0..4, not ${intxPin}`);
    const bridge = options.bridge ?? false;
    this.size = size;
    this.config = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
    this.bars = layoutBars(bridge ? description.bars.slice(0, 2) : description.bars);
    installHeader(this.config, this.wmask, this.w1cmask, {
      identity,
      intxPin,
      bridge,
      multifunction: options.multifunction ?? false,
      busNumbers: options.busNumbers,
      bars: this.bars,
      barAddresses: options.barAddresses ?? [],
      interruptLine: options.interruptLine ?? 0,
    });
    // QEMU makes the device-specific part of an endpoint's conventional config space plain
    // read-write memory (pci_init_wmask); a capability then takes its bytes back (pci_add_capability).
    if (!bridge) this.wmask.fill(0xff, PCI_STD_HEADER_SIZEOF, PCI_CFG_SPACE_SIZE);

    // Capabilities from 0x40, in the order QEMU's devices add them, each at the next dword.
    const chain: { offset: number; install: (next: number) => void }[] = [];
    let next = PCI_STD_HEADER_SIZEOF;
    this.pcieCap = 0;
    if (options.pcieType !== undefined) {
      const at = next;
      const flags = 0x2 | (options.pcieType << 4) | (options.pcieType === PCI_EXP_TYPE_ROOT_PORT ? PCI_EXP_FLAGS_SLOT : 0);
      chain.push({ offset: at, install: (n) => {
        this.config.fill(0, at, at + PCIE_CAP_SIZE);
        this.wmask.fill(0, at, at + PCIE_CAP_SIZE);
        this.config[at] = PCI_CAP_ID_EXP;
        this.config[at + 1] = n;
        setLE(this.config, at + PCI_EXP_FLAGS, 2, flags);
      } });
      this.pcieCap = at;
      next += PCIE_CAP_SIZE;
    }
    if (msiVectors > 0) {
      const msi = new MsiCapability(next, {
        vectors: msiVectors,
        address64: options.msi64bit ?? true,
        perVectorMask: options.msiPerVectorMask ?? false,
      });
      chain.push({ offset: msi.offset, install: (n) => msi.install(this.config, this.wmask, n) });
      this.msi = msi;
      next += (msi.size + 3) & ~3;
    } else {
      this.msi = undefined;
    }
    if (description.msix) {
      const msix = new MsixCapability(next, description.msix, this.config);
      chain.push({ offset: msix.offset, install: (n) => msix.install(this.wmask, n) });
      this.msix = msix;
      next += msix.size;
    } else {
      this.msix = undefined;
    }
    for (let i = 0; i < chain.length; i++) chain[i]!.install(chain[i + 1]?.offset ?? 0);
    if (chain.length > 0) {
      setLE(this.config, PCI_STATUS, 2, getLE(this.config, PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);
      this.config[PCI_CAPABILITY_LIST] = chain[0]!.offset;
    }
    // Extended space (0x100..0xfff): a zero header at 0x100 ends an empty list (PCIe §7.9.1),
    // and nothing is writable. A root port with ACS has QEMU's list: AER at 0x100, then ACS.
    this.acsCap = 0;
    if (options.acs && size > PCI_CFG_SPACE_SIZE) {
      this.acsCap = ACS_OFFSET;
      setLE(this.config, ACS_OFFSET, 4, PCI_EXT_CAP_ID_ACS | (1 << 16));
      setLE(this.config, ACS_OFFSET + PCI_ACS_CAP, 2, REQ_ACS_FLAGS);
      setLE(this.config, ACS_OFFSET + PCI_ACS_CTRL, 2, REQ_ACS_FLAGS);
      setLE(this.config, PCI_CFG_SPACE_SIZE, 4, PCI_EXT_CAP_ID_ERR | (2 << 16) | (ACS_OFFSET << 20));
    }
    this.powerOn = this.config.slice();
  }

  /** Offset of the MSI capability, 0 where absent. */
  get msiCap(): number {
    return this.msi?.offset ?? 0;
  }
  /** Offset of the MSI-X capability, 0 where absent. */
  get msixCap(): number {
    return this.msix?.offset ?? 0;
  }
  /** Header type without the multi-function bit: 0 normal, 1 bridge. */
  get headerType(): number {
    return this.config[PCI_HEADER_TYPE]! & 0x7f;
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
    const msixControl = this.msixCap + PCI_MSIX_FLAGS;
    if (this.msix && offset < msixControl + 2 && offset + data.length > msixControl) this.msix.controlWritten();
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
    this.msix?.reset();
  }

  /**
   * Sets Status bits the function itself reports (an error it signalled or received: Signaled
   * Target Abort, Detected Parity Error...), which software then clears by writing 1.
   */
  setStatusBits(bits: number): void {
    setLE(this.config, PCI_STATUS, 2, this.status | (bits & 0xffff));
  }
}
