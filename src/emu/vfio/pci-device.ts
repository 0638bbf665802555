/**
 * vfio-pci's side of one bound function (struct vfio_pci_core_device, drivers/vfio/pci/
 * vfio_pci_core.c, Linux 6.1): what VFIO_DEVICE_* ioctls do, with the kernel's errnos. Region
 * reads and writes are region-access.ts; interrupts are the vfio-pci interrupt core
 * (devices/vfio-pci/interrupts.ts) over the host kernel's MSI programming (msi-programming.ts).
 */
import type { DeviceInfo, IrqInfo, RegionCap, RegionInfo } from "../../api/device-info.js";
import type { IrqSetRequest } from "../../api/irq-set.js";
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_MSIX_TABLE, PCI_MSIX_TABLE_BIR,
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
} from "../../api/constants.js";
import { VfioPciInterrupts } from "../../devices/vfio-pci/interrupts.js";
import type { PciFunction } from "../pci/function.js";
import { fail } from "./errno.js";
import { irqCount, msiProgramming } from "./msi-programming.js";
import { VfioPciConfig } from "./pci-config.js";
import { regionAccess } from "./region-access.js";

/** VFIO_PCI_OFFSET_SHIFT: a region's offset in the device fd is its index << 40. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
const PAGE_SIZE = 4096n;

/** What the device needs from the machine it sits in. */
export interface PciDeviceHost {
  /** pci_try_reset_function() is possible: the methods Linux probes (FLR, PM, bus reset...). */
  canReset(fn: PciFunction): boolean;
  /** Performs the reset the kernel would (secondary bus reset), resetting the model. */
  reset(fn: PciFunction): void;
  /** INTx line of the function is asserted now. */
  intxAsserted(fn: PciFunction): boolean;
  /** The device's first open enabled it, or its last close disabled it (sysfs "enable" changes). */
  enableChanged(fn: PciFunction): void;
  /** The device's last file closed (an unbind waiting for it may go on). */
  lastClosed(fn: PciFunction): void;
}

export class VfioPciDevice {
  openCount = 0;
  config: VfioPciConfig | undefined;
  resetWorks = false;
  /** The vfio-pci interrupt core: SET_IRQS state and the triggers it fires. */
  readonly irqs: VfioPciInterrupts;
  /** Saved command register (pci_save_state at open) for the restore at close. */
  private savedCommand = 0;

  constructor(readonly fn: PciFunction, private readonly host: PciDeviceHost) {
    const hardware = msiProgramming(fn, {
      intxAsserted: () => host.intxAsserted(fn),
      intxDisabledByUser: () => this.config?.virqDisabled ?? false,
      msiGranted: (qmax) => {
        if (this.config) this.config.msiQmax = qmax;
      },
    });
    this.irqs = new VfioPciInterrupts(hardware, (errno, why) => fail("VFIO_DEVICE_SET_IRQS", errno, this.target, why));
  }

  get name(): string {
    return this.fn.address;
  }

  /** vfio_pci_core_open_device(): a new device file; the first one enables the device. */
  open(): void {
    this.openCount++;
    if (this.openCount !== 1) return;
    this.enable();
    this.host.enableChanged(this.fn);
  }

  /** vfio_pci_core_close_device(): a device file closed; the last one disables the device. */
  release(): void {
    this.openCount--;
    if (this.openCount !== 0) return;
    this.disable();
    this.host.enableChanged(this.fn);
    this.host.lastClosed(this.fn);
  }

  /** vfio_pci_core_enable(), on the first open. */
  private enable(): void {
    const cfg = this.fn.config;
    // "Don't allow our initial saved state to include busmaster", then pci_enable_device().
    cfg.write(PCI_COMMAND, 2, (cfg.command & ~PCI_COMMAND_MASTER) | PCI_COMMAND_MEMORY | (this.hasIoBar() ? 1 : 0));
    this.resetWorks = this.host.canReset(this.fn);
    if (this.resetWorks) this.host.reset(this.fn);
    this.savedCommand = cfg.command;
    // pci_2_3 devices get INTx Disable cleared.
    if (cfg.command & PCI_COMMAND_INTX_DISABLE) cfg.write(PCI_COMMAND, 2, cfg.command & ~PCI_COMMAND_INTX_DISABLE);
    this.config = new VfioPciConfig(this.fn, {
      msiEnabled: () => this.irqs.mode === "msi",
      intxMask: () => this.irqs.intxMask(),
      intxUnmask: () => this.irqs.intxUnmask(),
    });
  }

  /** vfio_pci_core_disable(), on the last close. */
  private disable(): void {
    const cfg = this.fn.config;
    cfg.write(PCI_COMMAND, 2, cfg.command & ~PCI_COMMAND_MASTER);
    this.irqs.disable();
    this.config = undefined;
    cfg.write(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    if (this.resetWorks) this.host.reset(this.fn);
    // pci_restore_state(), then pci_disable_device() clears Bus Master.
    cfg.write(PCI_COMMAND, 2, this.savedCommand & ~PCI_COMMAND_MASTER);
  }

  /** VFIO_DEVICE_GET_INFO. */
  info(): DeviceInfo {
    return {
      flags: VFIO_DEVICE_FLAGS_PCI | (this.resetWorks ? VFIO_DEVICE_FLAGS_RESET : 0),
      numRegions: VFIO_PCI_NUM_REGIONS,
      numIrqs: VFIO_PCI_NUM_IRQS,
    };
  }

  /** VFIO_DEVICE_GET_REGION_INFO. */
  regionInfo(index: number): RegionInfo {
    const op = "VFIO_DEVICE_GET_REGION_INFO";
    const offset = BigInt(index) << VFIO_PCI_OFFSET_SHIFT;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      return { index, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, size: BigInt(this.fn.cfgSize), offset, caps: [] };
    }
    if (index >= 0 && index <= 5) {
      const size = this.barSize(index);
      if (!size) return { index, flags: 0, size: 0n, offset, caps: [] };
      let flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      const caps: RegionCap[] = [];
      if (this.barMmapSupported(index)) {
        flags |= VFIO_REGION_INFO_FLAG_MMAP;
        // The BAR holding the MSI-X table: x86 lets userspace mmap it (msix_mappable_cap).
        if (index === this.msixBar) {
          caps.push({ id: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, kind: "msix-mappable", version: 1 });
          flags |= VFIO_REGION_INFO_FLAG_CAPS;
        }
      }
      return { index, flags, size, offset, caps };
    }
    if (index === VFIO_PCI_ROM_REGION_INDEX) {
      // No emulated function has a ROM BAR (nor a shadow ROM): size 0, no flags.
      return { index, flags: 0, size: 0n, offset, caps: [] };
    }
    if (index === VFIO_PCI_VGA_REGION_INDEX) fail(op, "EINVAL", this.target, "not a VGA device");
    fail(op, "EINVAL", this.target, `region index ${index} is past num_regions (${VFIO_PCI_NUM_REGIONS})`);
  }

  /** VFIO_DEVICE_GET_IRQ_INFO. */
  irqInfo(index: number): IrqInfo {
    const op = "VFIO_DEVICE_GET_IRQ_INFO";
    if (index < 0 || index >= VFIO_PCI_NUM_IRQS) fail(op, "EINVAL", this.target, `IRQ index ${index} is past num_irqs`);
    if (index === VFIO_PCI_ERR_IRQ_INDEX && !this.fn.isPcie) fail(op, "EINVAL", this.target, "the error IRQ exists for PCI Express devices only");
    let flags = VFIO_IRQ_INFO_EVENTFD;
    if (index === VFIO_PCI_INTX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    else flags |= VFIO_IRQ_INFO_NORESIZE;
    return { index, flags, count: this.irqCount(index) };
  }

  /** vfio_pci_get_irq_count(). */
  irqCount(index: number): number {
    return irqCount(this.fn, index);
  }

  /** VFIO_DEVICE_SET_IRQS. */
  setIrqs(request: IrqSetRequest): void {
    this.irqs.setIrqs(request);
  }

  /** VFIO_DEVICE_RESET. */
  reset(): void {
    if (!this.resetWorks) fail("VFIO_DEVICE_RESET", "EINVAL", this.target, "the device has no reset method (no FLR, no PM reset, not alone on a bus)");
    // pci_try_reset_function(): save state, reset, restore state (Command survives).
    const command = this.fn.config.command;
    this.host.reset(this.fn);
    this.fn.config.write(PCI_COMMAND, 2, command);
  }

  /** pread on the device fd at `index`'s region. */
  read(index: number, offset: bigint, length: number): Uint8Array {
    return regionAccess(this, "region read", index, offset, length, undefined);
  }

  /** pwrite on the device fd. Returns the number of bytes written. */
  write(index: number, offset: bigint, data: Uint8Array): number {
    return regionAccess(this, "region write", index, offset, data.length, data).length;
  }

  /** vfio_pci_core_mmap() checks: EINVAL unless a page-aligned window of an mmap-able BAR. */
  checkMmap(index: number, offset: bigint, size: bigint): void {
    const op = "mmap";
    if (index < 0 || index >= VFIO_PCI_NUM_REGIONS) fail(op, "EINVAL", this.target, `region ${index} does not exist`);
    if (index >= VFIO_PCI_ROM_REGION_INDEX) fail(op, "EINVAL", this.target, `region ${index} cannot be mmapped`);
    if (!this.barMmapSupported(index)) fail(op, "EINVAL", this.target, `BAR${index} cannot be mmapped`);
    if (offset % PAGE_SIZE !== 0n || size <= 0n) fail(op, "EINVAL", this.target, "mmap needs a page-aligned offset and a non-zero size");
    const physLen = (this.barSize(index) + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
    const reqLen = (size + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
    if (offset + reqLen > physLen) fail(op, "EINVAL", this.target, "past the end of the BAR");
  }

  // ---- interrupts from the device ----

  /** The function sent MSI vector `vector` (the host kernel's handler signals the trigger). */
  deliverMsi(vector: number): void {
    this.irqs.signalVector("msi", vector);
  }

  /** The function sent MSI-X vector `vector`: its table entry was unmasked (vfio_msihandler). */
  deliverMsix(vector: number): void {
    this.irqs.signalVector("msix", vector);
  }

  /** The function's INTx line fired (vfio_intx_handler with pci_2_3 masking). */
  deliverIntx(): void {
    this.irqs.intxFired();
  }

  /** The REQ interrupt: the kernel asks userspace to release the device (vfio_pci_core_request). */
  requestRelease(): void {
    this.irqs.reqTrigger?.signal();
  }

  /** The cause of a failure for messages. */
  get target(): string {
    return `device ${this.fn.address}`;
  }

  // ---- internals ----

  /** vdev->msix_bar: the BIR of the MSI-X table, or -1. */
  get msixBar(): number {
    const pos = this.fn.config.msixCap;
    return pos ? this.fn.config.read(pos + PCI_MSIX_TABLE, 4) & PCI_MSIX_TABLE_BIR : -1;
  }

  barSize(index: number): bigint {
    const r = this.fn.resources[index];
    return r && r.start ? r.size : 0n;
  }

  /** vfio_pci_probe_mmaps(): memory BARs of at least a page, or page-aligned smaller ones. */
  barMmapSupported(index: number): boolean {
    const spec = this.fn.model.bars[index];
    const r = this.fn.resources[index];
    if (!spec || spec.kind === "io" || !r || !r.size) return false;
    return r.size >= PAGE_SIZE || r.start % PAGE_SIZE === 0n;
  }

  private hasIoBar(): boolean {
    return this.fn.model.bars.some((b) => b?.kind === "io");
  }
}
