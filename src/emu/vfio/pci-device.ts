/**
 * vfio-pci's side of one bound function (struct vfio_pci_core_device, drivers/vfio/pci/
 * vfio_pci_core.c and vfio_pci_intrs.c, Linux 6.1): what VFIO_DEVICE_* ioctls and region
 * reads and writes do, with the kernel's errnos.
 */
import type { DeviceInfo, IrqInfo, RegionCap, RegionInfo } from "../../api/device-info.js";
import type { EventNotifier } from "../../api/event-notifier.js";
import type { IrqSetRequest } from "../../api/irq-set.js";
import type { VfioOp } from "../../api/op.js";
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_INTERRUPT_PIN,
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS, VFIO_PCI_REQ_IRQ_INDEX, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
} from "../../api/constants.js";
import { PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE } from "../../devices/pci/registers.js";
import { PCI_MSI_ADDRESS_HI, PCI_MSI_ADDRESS_LO, PCI_MSI_DATA_64, PCI_MSI_FLAGS } from "../pci/config-space.js";
import type { PciFunction } from "../pci/function.js";
import { fail } from "./errno.js";
import { ConfigRangeError, VfioPciConfig } from "./pci-config.js";

/** VFIO_PCI_OFFSET_SHIFT: a region's offset in the device fd is its index << 40. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
const PCI_MSI_FLAGS_MASKBIT = 0x100;
const PAGE_SIZE = 4096n;
/** U32_MAX, for vfio_set_irqs_validate_and_prepare's overflow test. */
const U32_MAX = 0xffffffff;

type IrqType = "none" | "intx" | "msi" | "msix";

/** What the device needs from the machine it sits in. */
export interface PciDeviceHost {
  /** pci_try_reset_function() is possible: the methods Linux probes (FLR, PM, bus reset...). */
  canReset(fn: PciFunction): boolean;
  /** Performs the reset the kernel would (secondary bus reset), resetting the model. */
  reset(fn: PciFunction): void;
  /** INTx line of the function is asserted now. */
  intxAsserted(fn: PciFunction): boolean;
}

export class VfioPciDevice {
  openCount = 0;
  config: VfioPciConfig | undefined;
  resetWorks = false;
  irqType: IrqType = "none";
  /** Per-vector triggers (vdev->ctx[i].trigger) while MSI/MSI-X/INTx is enabled. */
  triggers: (EventNotifier | null)[] = [];
  /** vdev->ctx[0].masked for INTx. */
  intxMasked = false;
  reqTrigger: EventNotifier | null = null;
  errTrigger: EventNotifier | null = null;
  /** Saved command register (pci_save_state at open) for the restore at close. */
  private savedCommand = 0;

  constructor(readonly fn: PciFunction, private readonly host: PciDeviceHost) {}

  get name(): string {
    return this.fn.address;
  }

  /** vfio_pci_core_enable(), on the first open. */
  enable(): void {
    const cfg = this.fn.config;
    // "Don't allow our initial saved state to include busmaster", then pci_enable_device().
    cfg.write(PCI_COMMAND, 2, (cfg.command & ~PCI_COMMAND_MASTER) | PCI_COMMAND_MEMORY | (this.hasIoBar() ? 1 : 0));
    this.resetWorks = this.host.canReset(this.fn);
    if (this.resetWorks) this.host.reset(this.fn);
    this.savedCommand = cfg.command;
    // pci_2_3 devices get INTx Disable cleared.
    if (cfg.command & PCI_COMMAND_INTX_DISABLE) cfg.write(PCI_COMMAND, 2, cfg.command & ~PCI_COMMAND_INTX_DISABLE);
    this.config = new VfioPciConfig(this.fn, {
      msiEnabled: () => this.irqType === "msi",
      intxMask: () => this.intxMask(),
      intxUnmask: () => this.intxUnmask(),
    });
  }

  /** vfio_pci_core_disable(), on the last close. */
  disable(): void {
    const cfg = this.fn.config;
    cfg.write(PCI_COMMAND, 2, cfg.command & ~PCI_COMMAND_MASTER);
    this.disableIrqs();
    this.reqTrigger = null;
    this.errTrigger = null;
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
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return this.fn.config.read(PCI_INTERRUPT_PIN, 1) ? 1 : 0;
      case VFIO_PCI_MSI_IRQ_INDEX: {
        const pos = this.fn.config.msiCap;
        if (!pos) return 0;
        return 1 << ((this.fn.config.read(pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1);
      }
      case VFIO_PCI_MSIX_IRQ_INDEX: {
        const pos = this.fn.config.msixCap;
        // PCI_MSIX_FLAGS_QSIZE + 1.
        return pos ? (this.fn.config.read(pos + 2, 2) & 0x7ff) + 1 : 0;
      }
      case VFIO_PCI_ERR_IRQ_INDEX:
        return this.fn.isPcie ? 1 : 0;
      case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
      default:
        return 0;
    }
  }

  /** VFIO_DEVICE_SET_IRQS: vfio_set_irqs_validate_and_prepare(), then vfio_pci_set_irqs_ioctl(). */
  setIrqs(request: IrqSetRequest): void {
    const op = "VFIO_DEVICE_SET_IRQS";
    const { flags, index, start, count } = request;
    const max = this.irqCount(index);
    if (index < 0 || index >= VFIO_PCI_NUM_IRQS || count >= U32_MAX - start || flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) {
      fail(op, "EINVAL", this.target, "bad index, count or flags");
    }
    if (start >= max || start + count > max) fail(op, "EINVAL", this.target, `vectors ${start}..${start + count} exceed the ${max} of index ${index}`);
    const dataType = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (dataType !== VFIO_IRQ_SET_DATA_NONE && dataType !== VFIO_IRQ_SET_DATA_BOOL && dataType !== VFIO_IRQ_SET_DATA_EVENTFD) {
      fail(op, "EINVAL", this.target, "exactly one DATA_* flag is needed");
    }
    // The data array must hold `count` entries (argsz - minsz < count * size → EINVAL).
    if (dataType === VFIO_IRQ_SET_DATA_BOOL && (request.bools?.length ?? 0) < count) fail(op, "EINVAL", this.target, "fewer bools than count");
    if (dataType === VFIO_IRQ_SET_DATA_EVENTFD && (request.notifiers?.length ?? 0) < count) fail(op, "EINVAL", this.target, "fewer notifiers than count");
    const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    const data: IrqData = { type: dataType, bools: request.bools ?? [], notifiers: request.notifiers ?? [] };
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_MASK) return this.setIntxMask(start, count, data);
        if (action === VFIO_IRQ_SET_ACTION_UNMASK) return this.setIntxUnmask(start, count, data);
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setIntxTrigger(start, count, data);
        break;
      case VFIO_PCI_MSI_IRQ_INDEX:
      case VFIO_PCI_MSIX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setMsiTrigger(index, start, count, data);
        break; // "XXX Need masking support exported"
      case VFIO_PCI_ERR_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER && this.fn.isPcie) {
          if (start !== 0 || count > 1) fail(op, "EINVAL", this.target);
          this.errTrigger = this.setSingle(this.errTrigger, count, data);
          return;
        }
        break;
      case VFIO_PCI_REQ_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
          if (start !== 0 || count > 1) fail(op, "EINVAL", this.target);
          this.reqTrigger = this.setSingle(this.reqTrigger, count, data);
          return;
        }
        break;
    }
    fail(op, "ENOTTY", this.target, "that action is not supported on that index");
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
    return this.rw("region read", index, offset, length, undefined);
  }

  /** pwrite on the device fd. Returns the number of bytes written. */
  write(index: number, offset: bigint, data: Uint8Array): number {
    return this.rw("region write", index, offset, data.length, data).length;
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

  /** The device raised MSI vector `vector` (the host kernel's handler signals the trigger). */
  deliverMsi(vector: number): void {
    if (this.irqType !== "msi") return;
    this.triggers[vector]?.signal();
  }

  /** The function's INTx line fired (vfio_intx_handler with pci_2_3 masking). */
  deliverIntx(): void {
    if (this.irqType !== "intx" || this.intxMasked) return;
    if (!this.triggers[0]) return; // no handler registered without an eventfd
    this.intxMask();
    this.sendIntx();
  }

  /** The cause of a failure for messages. */
  get target(): string {
    return `device ${this.fn.address}`;
  }

  // ---- internals ----

  private rw(op: VfioOp, index: number, offset: bigint, length: number, data: Uint8Array | undefined): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    if (index < 0 || index >= VFIO_PCI_NUM_REGIONS) fail(op, "EINVAL", this.target, `region ${index} does not exist`);
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      const config = this.config!;
      try {
        if (data) {
          config.write(Number(offset), data);
          return data;
        }
        return config.read(Number(offset), length);
      } catch (error) {
        if (error instanceof ConfigRangeError) fail(op, "EFAULT", this.target, "past the end of config space");
        throw error;
      }
    }
    if (index === VFIO_PCI_ROM_REGION_INDEX) {
      if (data) fail(op, "EINVAL", this.target, "the ROM is read-only");
      fail(op, "EINVAL", this.target, "no ROM");
    }
    if (index === VFIO_PCI_VGA_REGION_INDEX) fail(op, "EINVAL", this.target, "not a VGA device");
    // vfio_pci_bar_rw().
    const end = this.barStart(index) ? this.barSize(index) : 0n;
    if (!end) fail(op, "EINVAL", this.target, `BAR${index} is not implemented`);
    if (offset < 0n || offset >= end) fail(op, "EINVAL", this.target, `offset 0x${offset.toString(16)} is past BAR${index}'s end`);
    const count = Number(end - offset < BigInt(length) ? end - offset : BigInt(length));
    const spec = this.fn.model.bars[index]!;
    if (spec.kind !== "io" && !this.config!.memoryEnabled()) fail(op, "EIO", this.target, "Memory Space Enable is off in the Command register");
    // vfio_pci_core_do_io_rw(): the widest naturally aligned access that fits, 4, 2 or 1 bytes.
    const out = data ? data : new Uint8Array(count);
    let done = 0;
    while (done < count) {
      const pos = offset + BigInt(done);
      const left = count - done;
      const size: 1 | 2 | 4 = left >= 4 && pos % 4n === 0n ? 4 : left >= 2 && pos % 2n === 0n ? 2 : 1;
      if (data) {
        let value = 0n;
        for (let i = 0; i < size; i++) value |= BigInt(data[done + i]!) << BigInt(8 * i);
        this.fn.model.barWrite(index, pos, size, value);
      } else {
        const value = this.fn.model.barRead(index, pos, size);
        for (let i = 0; i < size; i++) out[done + i] = Number((value >> BigInt(8 * i)) & 0xffn);
      }
      done += size;
    }
    return data ? data.subarray(0, count) : out;
  }

  private barStart(index: number): bigint {
    return this.fn.resources[index]?.start ?? 0n;
  }

  /** vdev->msix_bar: the BIR of the MSI-X table, or -1. */
  get msixBar(): number {
    const pos = this.fn.config.msixCap;
    return pos ? this.fn.config.read(pos + 4, 4) & 0x7 : -1;
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

  private setSingle(current: EventNotifier | null, count: number, data: IrqData): EventNotifier | null {
    // vfio_pci_set_ctx_trigger_single(): DATA_NONE/DATA_BOOL for loopback tests.
    if (data.type === VFIO_IRQ_SET_DATA_NONE) {
      if (current) {
        if (count) {
          current.signal();
          return current;
        }
        return null;
      }
    } else if (data.type === VFIO_IRQ_SET_DATA_BOOL) {
      if (!count) fail("VFIO_DEVICE_SET_IRQS", "EINVAL", this.target);
      if (data.bools[0] && current) current.signal();
      return current;
    } else if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      if (!count) fail("VFIO_DEVICE_SET_IRQS", "EINVAL", this.target);
      return data.notifiers[0] ?? null;
    }
    fail("VFIO_DEVICE_SET_IRQS", "EINVAL", this.target, "no trigger to signal");
  }

  private setIntxTrigger(start: number, count: number, data: IrqData): void {
    const op = "VFIO_DEVICE_SET_IRQS";
    if (this.irqType === "intx" && !count && data.type === VFIO_IRQ_SET_DATA_NONE) {
      this.intxDisable();
      return;
    }
    if (!(this.irqType === "intx" || this.irqType === "none") || start !== 0 || count !== 1) fail(op, "EINVAL", this.target);
    if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      const notifier = data.notifiers[0] ?? null;
      if (this.irqType === "intx") {
        this.triggers[0] = notifier;
        return;
      }
      // vfio_intx_enable(): masked state follows the virtual INTx Disable; pci_2_3 masking in hardware.
      this.irqType = "intx";
      this.intxMasked = this.config?.virqDisabled ?? false;
      this.setHwIntxDisable(this.intxMasked);
      this.triggers = [notifier];
      // A level still asserted fires at once when the handler is installed.
      if (notifier && this.host.intxAsserted(this.fn)) this.deliverIntx();
      return;
    }
    if (this.irqType !== "intx") fail(op, "EINVAL", this.target, "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.sendIntx();
  }

  private setIntxMask(start: number, count: number, data: IrqData): void {
    if (this.irqType !== "intx" || start !== 0 || count !== 1) fail("VFIO_DEVICE_SET_IRQS", "EINVAL", this.target, "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.intxMask();
    else if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) fail("VFIO_DEVICE_SET_IRQS", "ENOTTY", this.target, "mask by eventfd is not implemented in Linux");
  }

  private setIntxUnmask(start: number, count: number, data: IrqData): void {
    if (this.irqType !== "intx" || start !== 0 || count !== 1) fail("VFIO_DEVICE_SET_IRQS", "EINVAL", this.target, "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.intxUnmask();
    // DATA_EVENTFD registers an irqfd-style unmask (virqfd); not modelled beyond acceptance.
  }

  private setMsiTrigger(index: number, start: number, count: number, data: IrqData): void {
    const op = "VFIO_DEVICE_SET_IRQS";
    const type: IrqType = index === VFIO_PCI_MSIX_IRQ_INDEX ? "msix" : "msi";
    if (this.irqType === type && !count && data.type === VFIO_IRQ_SET_DATA_NONE) {
      this.msiDisable();
      return;
    }
    if (!(this.irqType === type || this.irqType === "none")) fail(op, "EINVAL", this.target, `another interrupt type (${this.irqType}) is enabled`);
    if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      if (this.irqType !== type) this.msiEnable(type, start + count);
      if (start >= this.triggers.length || start + count > this.triggers.length) fail(op, "EINVAL", this.target);
      for (let j = 0; j < count; j++) this.triggers[start + j] = data.notifiers[j] ?? null;
      return;
    }
    if (this.irqType !== type || start + count > this.triggers.length) fail(op, "EINVAL", this.target, "MSI is not enabled");
    for (let i = start; i < start + count; i++) {
      const t = this.triggers[i];
      if (!t) continue;
      if (data.type === VFIO_IRQ_SET_DATA_NONE || data.bools[i - start]) t.signal();
    }
  }

  /** vfio_msi_enable(): the host kernel allocates the vectors and programs the capability. */
  private msiEnable(type: IrqType, nvec: number): void {
    this.irqType = type;
    this.triggers = new Array<EventNotifier | null>(nvec).fill(null);
    const cfg = this.fn.config;
    const pos = cfg.msiCap;
    if (type === "msi" && pos) {
      const qmax = Math.ceil(Math.log2(nvec));
      if (this.config) this.config.msiQmax = qmax;
      cfg.write(pos + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
      cfg.write(pos + PCI_MSI_ADDRESS_HI, 4, 0);
      cfg.write(pos + PCI_MSI_DATA_64, 2, 0x4021);
      const flags = cfg.read(pos + PCI_MSI_FLAGS, 2);
      cfg.write(pos + PCI_MSI_FLAGS, 2, (flags & ~PCI_MSI_FLAGS_QSIZE & ~PCI_MSI_FLAGS_MASKBIT) | (qmax << 4) | PCI_MSI_FLAGS_ENABLE);
      // pci_intx_for_msi(): INTx is disabled while MSI is on.
      this.setHwIntxDisable(true);
    }
  }

  private msiDisable(): void {
    const cfg = this.fn.config;
    const pos = cfg.msiCap;
    if (this.irqType === "msi" && pos) {
      cfg.write(pos + PCI_MSI_FLAGS, 2, cfg.read(pos + PCI_MSI_FLAGS, 2) & ~PCI_MSI_FLAGS_ENABLE);
      this.setHwIntxDisable(false);
    }
    this.irqType = "none";
    this.triggers = [];
  }

  private intxDisable(): void {
    this.irqType = "none";
    this.triggers = [];
    this.intxMasked = false;
  }

  private disableIrqs(): void {
    if (this.irqType === "msi" || this.irqType === "msix") this.msiDisable();
    else if (this.irqType === "intx") this.intxDisable();
  }

  /** vfio_pci_intx_mask(). */
  intxMask(): void {
    if (this.irqType === "intx" && !this.intxMasked) {
      this.setHwIntxDisable(true);
      this.intxMasked = true;
    }
  }

  /** vfio_pci_intx_unmask(): a line still asserted is re-sent at once and stays masked. */
  intxUnmask(): void {
    if (this.irqType !== "intx" || !this.intxMasked || this.config?.virqDisabled) return;
    if (this.host.intxAsserted(this.fn)) {
      this.sendIntx();
      return;
    }
    this.setHwIntxDisable(false);
    this.intxMasked = false;
  }

  private sendIntx(): void {
    if (this.irqType === "intx" && !this.config?.virqDisabled) this.triggers[0]?.signal();
  }

  private setHwIntxDisable(disable: boolean): void {
    const cfg = this.fn.config;
    cfg.write(PCI_COMMAND, 2, disable ? cfg.command | PCI_COMMAND_INTX_DISABLE : cfg.command & ~PCI_COMMAND_INTX_DISABLE);
  }
}

interface IrqData {
  readonly type: number;
  readonly bools: readonly boolean[];
  readonly notifiers: readonly (EventNotifier | null)[];
}
