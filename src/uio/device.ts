/**
 * A PCI function reached the ways before VFIO, presented as api/ VfioDevice so that drivers
 * written for VFIO (drivers/edu.ts) run unchanged. The region and IRQ indexes are vfio-pci's
 * (include/uapi/linux/vfio.h VFIO_PCI_*_INDEX):
 *
 * - BAR regions are the sysfs `resourceN` files, mmapped (pci_mmap_resource_uc; `resourceN_wc`
 *   for write-combining, which sysfs offers only for prefetchable BARs); read()/write() go
 *   through a mapping too, since sysfs gives memory BARs no read/write method;
 * - the config region is the sysfs `config` file: raw config space, no virtualisation (vfio-pci
 *   filters and emulates config writes; here the process writes the device's real registers);
 * - INTx is uio_pci_generic's (intx.ts) in "uio" mode, absent in "plain" mode; MSI and MSI-X
 *   are absent (count 0: uio_pci_generic has no way to deliver them), and asking for them fails
 *   with the EINVAL vfio-pci gives for an index with no vectors.
 */
import type { RegionMapping, VfioDevice } from "../api/device.js";
import type { DeviceInfo, IrqInfo, RegionInfo } from "../api/device-info.js";
import type { EventNotifier } from "../api/event-notifier.js";
import type { IrqSetRequest } from "../api/irq-set.js";
import type { ConfigFile, UioEventFile, UioSystem } from "../api/uio-system.js";
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from "../api/constants.js";
import { VfioSystemError, errnoValue, type Via } from "../api/errors.js";
import type { VfioOp } from "../api/op.js";
import { UioIntx } from "./intx.js";
import { IORESOURCE_MEM, IORESOURCE_PREFETCH, type PciResourceLine } from "./resources.js";

/** How the device was opened: with uio_pci_generic's interrupt and DMA, or registers only. */
export type UioMode = "uio" | "plain";

/** vfio-pci's region offset encoding (VFIO_PCI_OFFSET_SHIFT), kept so offsets look familiar. */
const OFFSET_SHIFT = 40n;
const VIA: Via = "sysfs";

export interface UioDeviceParts {
  readonly system: UioSystem;
  readonly name: string;
  readonly mode: UioMode;
  readonly resources: readonly PciResourceLine[];
  readonly config: ConfigFile;
  /** Config space size: 256, or 4096 for PCIe. */
  readonly configSize: number;
  /** /dev/uioN, in "uio" mode on a device with an IRQ. */
  readonly events: UioEventFile | undefined;
  /** The device has a sysfs `reset` attribute. */
  readonly canReset: boolean;
}

export interface UioMapOptions {
  /** Map `resourceN_wc` (write-combining; prefetchable BARs only) instead of `resourceN`. */
  readonly writeCombine?: boolean;
}

export class UioDevice implements VfioDevice {
  readonly name: string;
  readonly mode: UioMode;
  readonly #parts: UioDeviceParts;
  readonly #intx: UioIntx;
  readonly #mappings = new Set<RegionMapping>();
  /** One mapping per BAR for read()/write(). */
  readonly #accessMappings = new Map<number, RegionMapping>();
  readonly #notifiers = new Set<EventNotifier>();
  #closed = false;

  constructor(parts: UioDeviceParts) {
    this.#parts = parts;
    this.name = parts.name;
    this.mode = parts.mode;
    this.#intx = new UioIntx(parts.events, {
      read16: (offset) => le(parts.config.read(offset, 2)),
      write16: (offset, value) => void parts.config.write(offset, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff)),
    }, `device ${parts.name}`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async info(): Promise<DeviceInfo> {
    this.#live("VFIO_DEVICE_GET_INFO");
    return { flags: VFIO_DEVICE_FLAGS_PCI | (this.#parts.canReset ? VFIO_DEVICE_FLAGS_RESET : 0), numRegions: VFIO_PCI_NUM_REGIONS, numIrqs: VFIO_PCI_NUM_IRQS };
  }

  async regionInfo(index: number): Promise<RegionInfo> {
    this.#live("VFIO_DEVICE_GET_REGION_INFO");
    return this.#region(index);
  }

  #region(index: number): RegionInfo {
    if (!Number.isInteger(index) || index < 0 || index >= VFIO_PCI_NUM_REGIONS) {
      throw this.#error("VFIO_DEVICE_GET_REGION_INFO", "EINVAL", `device ${this.name}`, `the device has no region ${index}`);
    }
    const offset = BigInt(index) << OFFSET_SHIFT;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      return { index, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, size: BigInt(this.#parts.configSize), offset, caps: [] };
    }
    const resource = index <= 5 ? this.#parts.resources[index] : undefined;
    // Memory BARs only: I/O port BARs, the ROM and VGA are not offered (flags 0, as vfio-pci
    // reports a region the device lacks).
    if (!resource || resource.size === 0n || (resource.flags & IORESOURCE_MEM) === 0) return { index, flags: 0, size: 0n, offset, caps: [] };
    return { index, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP, size: resource.size, offset, caps: [] };
  }

  async read(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    this.#live("region read");
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      this.#checkConfig("region read", offset, length);
      return this.#parts.config.read(Number(offset), length);
    }
    const { mapping, at } = this.#accessWindow("region read", index, offset, length);
    const out = new Uint8Array(length);
    for (const [o, width] of naturalAccesses(at, length)) {
      const v = width === 8 ? mapping.read64(o) : BigInt(width === 4 ? mapping.read32(o) : width === 2 ? mapping.read16(o) : mapping.read8(o));
      for (let i = 0; i < width; i++) out[o - at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    }
    return out;
  }

  async write(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    this.#live("region write");
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      this.#checkConfig("region write", offset, data.byteLength);
      const n = this.#parts.config.write(Number(offset), data);
      if (n < data.byteLength) throw this.#error("region write", "EINVAL", `device ${this.name} region ${index}`, `only ${n} of ${data.byteLength} bytes written`);
      return;
    }
    const { mapping, at } = this.#accessWindow("region write", index, offset, data.byteLength);
    for (const [o, width] of naturalAccesses(at, data.byteLength)) {
      let v = 0n;
      for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[o - at + i]!);
      if (width === 8) mapping.write64(o, v);
      else if (width === 4) mapping.write32(o, Number(v));
      else if (width === 2) mapping.write16(o, Number(v));
      else mapping.write8(o, Number(v));
    }
  }

  /**
   * mmaps `size` bytes at page-aligned `offset` of BAR `index` (sysfs resourceN, or
   * resourceN_wc with `writeCombine`). Rejects with EINVAL where the region is not mmap-able.
   */
  async mapRegion(index: number, offset = 0n, size?: bigint, options: UioMapOptions = {}): Promise<RegionMapping> {
    this.#live("mmap");
    const region = this.#region(index);
    const target = `device ${this.name} region ${index}`;
    if ((region.flags & VFIO_REGION_INFO_FLAG_MMAP) === 0) throw this.#error("mmap", "EINVAL", target, `region ${index} is not a memory BAR: it cannot be mmapped`);
    const length = size ?? region.size - offset;
    if (offset < 0n || length <= 0n || offset + length > region.size) throw this.#error("mmap", "EINVAL", target, `0x${offset.toString(16)}+0x${length.toString(16)} is outside the 0x${region.size.toString(16)}-byte region`);
    if (offset % BigInt(this.#parts.system.pageSize) !== 0n) throw this.#error("mmap", "EINVAL", target, `offset 0x${offset.toString(16)} is not page-aligned`);
    if (options.writeCombine && (this.#parts.resources[index]!.flags & IORESOURCE_PREFETCH) === 0) {
      throw this.#error("mmap", "ENOENT", target, `BAR${index} is not prefetchable: sysfs offers resource${index}_wc only for prefetchable BARs`);
    }
    // A BAR smaller than a page is still mapped by the page (pci_mmap_fits allows the rounded size).
    const page = BigInt(this.#parts.system.pageSize);
    const mapped = ((length + page - 1n) / page) * page;
    const raw = this.#parts.system.mapResource(this.name, index, offset, Number(mapped), options.writeCombine ?? false);
    const mapping = trackUnmap(raw, Number(length), () => this.#mappings.delete(mapping));
    this.#mappings.add(mapping);
    return mapping;
  }

  async irqInfo(index: number): Promise<IrqInfo> {
    this.#live("VFIO_DEVICE_GET_IRQ_INFO");
    if (!Number.isInteger(index) || index < 0 || index >= VFIO_PCI_NUM_IRQS) {
      throw this.#error("VFIO_DEVICE_GET_IRQ_INFO", "EINVAL", `device ${this.name}`, `the device has no IRQ index ${index}`);
    }
    if (index === VFIO_PCI_INTX_IRQ_INDEX) {
      const count = this.#parts.events ? 1 : 0;
      return { index, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED, count };
    }
    return { index, flags: VFIO_IRQ_INFO_EVENTFD | (index === VFIO_PCI_MSI_IRQ_INDEX || index === VFIO_PCI_MSIX_IRQ_INDEX ? VFIO_IRQ_INFO_NORESIZE : 0), count: 0 };
  }

  async setIrqs(request: IrqSetRequest): Promise<void> {
    this.#live("VFIO_DEVICE_SET_IRQS");
    const target = `device ${this.name} IRQ index ${request.index}`;
    if (!Number.isInteger(request.index) || request.index < 0 || request.index >= VFIO_PCI_NUM_IRQS) {
      throw this.#error("VFIO_DEVICE_SET_IRQS", "EINVAL", target, `the device has no IRQ index ${request.index}`);
    }
    if (request.index === VFIO_PCI_INTX_IRQ_INDEX) return this.#intx.set(request);
    // Disabling an index with no vectors is accepted, as vfio-pci accepts count 0.
    const disabling = request.count === 0 && (request.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) === VFIO_IRQ_SET_ACTION_TRIGGER && (request.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) === VFIO_IRQ_SET_DATA_NONE;
    if (disabling) return;
    const which = request.index === VFIO_PCI_MSI_IRQ_INDEX ? "MSI" : request.index === VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : "this index";
    throw this.#error("VFIO_DEVICE_SET_IRQS", "EINVAL", target, `${this.mode === "uio" ? "uio_pci_generic delivers INTx only" : "the plain userspace driver has no interrupts"}: ${which} is not available (use VFIO for MSI/MSI-X, or poll)`);
  }

  createNotifier(): EventNotifier {
    this.#live("eventfd");
    const notifier = this.#parts.system.createNotifier();
    this.#notifiers.add(notifier);
    return notifier;
  }

  /** Writes 1 to the sysfs `reset` attribute (pci_reset_function), where the device has one. */
  async reset(): Promise<void> {
    this.#live("VFIO_DEVICE_RESET");
    if (!this.#parts.canReset) throw this.#error("VFIO_DEVICE_RESET", "EINVAL", `device ${this.name}`, "the device has no reset method (no sysfs reset attribute)");
    await this.#parts.system.sysfs.write(`bus/pci/devices/${this.name}/reset`, "1");
  }

  /** Disables INTx delivery, unmaps everything, closes its notifiers and files. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#intx.disable();
    } finally {
      this.#closed = true;
      for (const mapping of [...this.#mappings, ...this.#accessMappings.values()]) mapping.unmap();
      this.#accessMappings.clear();
      for (const notifier of this.#notifiers) notifier.close();
      this.#notifiers.clear();
      this.#parts.events?.close();
      this.#parts.config.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #accessWindow(op: VfioOp, index: number, offset: bigint, length: number): { mapping: RegionMapping; at: number } {
    const region = this.#region(index);
    const target = `device ${this.name} region ${index}`;
    if ((region.flags & VFIO_REGION_INFO_FLAG_MMAP) === 0) throw this.#error(op, "EINVAL", target, `region ${index} is not a memory BAR of this device`);
    if (offset < 0n || length < 0 || offset + BigInt(length) > region.size) throw this.#error(op, "EINVAL", target, `${length} bytes at 0x${offset.toString(16)} cross the end of the 0x${region.size.toString(16)}-byte region`);
    let mapping = this.#accessMappings.get(index);
    if (!mapping) {
      const page = BigInt(this.#parts.system.pageSize);
      mapping = this.#parts.system.mapResource(this.name, index, 0n, Number(((region.size + page - 1n) / page) * page), false);
      this.#accessMappings.set(index, mapping);
    }
    return { mapping, at: Number(offset) };
  }

  #checkConfig(op: VfioOp, offset: bigint, length: number): void {
    if (offset < 0n || offset >= BigInt(this.#parts.configSize) || length < 0) {
      throw this.#error(op, "EINVAL", `device ${this.name} region ${VFIO_PCI_CONFIG_REGION_INDEX}`, `offset 0x${offset.toString(16)} is past the end of the ${this.#parts.configSize}-byte config space`);
    }
  }

  #live(op: VfioOp): void {
    if (this.#closed) throw this.#error(op, "EBADF", `device ${this.name}`, "the device is closed");
  }

  #error(op: VfioOp, errno: "EINVAL" | "EBADF" | "ENOENT", target: string, hint: string): VfioSystemError {
    return new VfioSystemError(op, errnoValue(errno), VIA, target, hint);
  }
}

function le(bytes: Uint8Array): number {
  return (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
}

/** Splits [at, at+length) into naturally aligned 8/4/2/1-byte accesses, as vfio_pci_bar_rw does. */
function* naturalAccesses(at: number, length: number): Generator<[number, 1 | 2 | 4 | 8]> {
  let o = at;
  const end = at + length;
  while (o < end) {
    const width = o % 8 === 0 && end - o >= 8 ? 8 : o % 4 === 0 && end - o >= 4 ? 4 : o % 2 === 0 && end - o >= 2 ? 2 : 1;
    yield [o, width];
    o += width;
  }
}

/**
 * The mapping as the caller sees it: its own size (a BAR smaller than a page is mapped by the
 * page, but accesses stop at the BAR's end) and a callback when it is unmapped.
 */
function trackUnmap(raw: RegionMapping, size: number, onUnmap: () => void): RegionMapping {
  let live = true;
  const check = (offset: number, width: number): void => {
    if (!(offset >= 0 && offset + width <= size)) throw new RangeError(`region ${raw.index}: ${width}-byte access at ${offset} is outside the ${size}-byte mapping`);
  };
  return {
    index: raw.index,
    offset: raw.offset,
    size,
    get bytes() {
      return raw.bytes?.subarray(0, size);
    },
    read8: (o) => (check(o, 1), raw.read8(o)),
    read16: (o) => (check(o, 2), raw.read16(o)),
    read32: (o) => (check(o, 4), raw.read32(o)),
    read64: (o) => (check(o, 8), raw.read64(o)),
    write8: (o, v) => (check(o, 1), raw.write8(o, v)),
    write16: (o, v) => (check(o, 2), raw.write16(o, v)),
    write32: (o, v) => (check(o, 4), raw.write32(o, v)),
    write64: (o, v) => (check(o, 8), raw.write64(o, v)),
    unmap() {
      if (!live) return;
      live = false;
      raw.unmap();
      onUnmap();
    },
    [Symbol.dispose]() {
      this.unmap();
    },
  };
}
