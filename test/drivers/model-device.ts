/**
 * A small VfioDevice + DmaSpace over a device model, for testing drivers before a full host
 * exists: config space from devices/pci, an IOMMU of page mappings, MSI through SET_IRQS, and
 * an in-process notifier. It is a test double of the emulated machine, not a replacement: the
 * driver's tests also run on emu/ and on the kernel.
 */
import type { DeviceInfo, IrqInfo, RegionInfo } from "../../src/api/device-info.js";
import type { RegionMapping, VfioDevice } from "../../src/api/device.js";
import type { DmaAllocateOptions, DmaBuffer, DmaSpace } from "../../src/api/dma-space.js";
import type { EventNotifier } from "../../src/api/event-notifier.js";
import type { IrqSetRequest } from "../../src/api/irq-set.js";
import type { AccessSize, DeviceHost, DeviceModel } from "../../src/api/hosting.js";
import { DmaFaultError } from "../../src/api/hosting.js";
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_IRQ_INFO_EVENTFD,
} from "../../src/api/constants.js";
import { VfioSystemError, errnoValue } from "../../src/api/errors.js";
import { PciConfigSpace } from "../../src/devices/pci/config-space.js";

const PAGE = 4096n;

export class TestNotifier implements EventNotifier {
  readonly fd = undefined;
  private count = 0n;
  private waiters: { resolve(c: bigint): void; reject(e: Error): void }[] = [];
  private closed = false;
  signal(): void {
    this.count++;
    queueMicrotask(() => this.deliver());
  }
  private deliver(): void {
    if (this.count === 0n || this.waiters.length === 0) return;
    const c = this.count;
    this.count = 0n;
    for (const w of this.waiters.splice(0)) w.resolve(c);
  }
  onSignal(): void {
    throw new Error("not used");
  }
  next(): Promise<bigint> {
    if (this.closed) return Promise.reject(new Error("closed"));
    const p = new Promise<bigint>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.deliver();
    return p;
  }
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new Error("closed"));
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

export class ModelDevice implements VfioDevice, DmaSpace, DeviceHost {
  readonly name = "0000:00:03.0";
  readonly config: PciConfigSpace;
  /** IOVA page → the bytes behind it. */
  readonly iommu = new Map<bigint, { bytes: Uint8Array; offset: number; write: boolean }>();
  readonly faults: DmaFaultError[] = [];
  msiTrigger: EventNotifier | undefined;
  mmap = true;
  private nextIova = 0x1000n;

  constructor(readonly model: DeviceModel) {
    this.config = new PciConfigSpace(model);
    model.attach(this);
  }

  // DeviceHost
  private page(address: bigint, access: "read" | "write"): { bytes: Uint8Array; offset: number } {
    if (!this.config.busMasterEnabled) throw this.fault(address, access, "bus-master-disabled");
    const entry = this.iommu.get(address - (address % PAGE));
    if (!entry) throw this.fault(address, access, "not-mapped");
    if (access === "write" && !entry.write) throw this.fault(address, access, "no-write-permission");
    return { bytes: entry.bytes, offset: entry.offset + Number(address % PAGE) };
  }
  private fault(address: bigint, access: "read" | "write", reason: DmaFaultError["reason"]): DmaFaultError {
    const f = new DmaFaultError(address, access, reason);
    this.faults.push(f);
    return f;
  }
  async dmaRead(address: bigint, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const p = this.page(address + BigInt(i), "read");
      out[i] = p.bytes[p.offset]!;
    }
    return out;
  }
  async dmaWrite(address: bigint, data: Uint8Array): Promise<void> {
    for (let i = 0; i < data.length; i++) this.page(address + BigInt(i), "write");
    for (let i = 0; i < data.length; i++) {
      const p = this.page(address + BigInt(i), "write");
      p.bytes[p.offset] = data[i]!;
    }
  }
  raiseIrq(vector: number): void {
    const message = this.config.msiMessage(vector);
    if (message && this.config.busMasterEnabled) this.msiTrigger?.signal();
  }
  lowerIrq(): void {}

  // DmaSpace
  async allocate(size: number, options: DmaAllocateOptions = {}): Promise<DmaBuffer> {
    const pages = Math.ceil(size / 4096);
    const bytes = new Uint8Array(pages * 4096);
    const iova = options.iova ?? this.nextIova;
    this.nextIova = iova + BigInt(pages) * PAGE;
    if (options.limit !== undefined && iova + BigInt(bytes.length) > options.limit) throw new Error("limit");
    for (let i = 0; i < pages; i++) this.iommu.set(iova + BigInt(i) * PAGE, { bytes, offset: i * 4096, write: options.write ?? true });
    let freed = false;
    const free = async (): Promise<void> => {
      if (freed) return;
      freed = true;
      for (let i = 0; i < pages; i++) this.iommu.delete(iova + BigInt(i) * PAGE);
    };
    return { iova, size: bytes.length, bytes, free, [Symbol.asyncDispose]: free };
  }

  // VfioDevice
  async info(): Promise<DeviceInfo> {
    return { flags: VFIO_DEVICE_FLAGS_PCI, numRegions: 9, numIrqs: 5 };
  }
  async regionInfo(index: number): Promise<RegionInfo> {
    const rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    if (index === 0) return { index, flags: rw | (this.mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0), size: 1n << 20n, offset: 0n, caps: [] };
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) return { index, flags: rw, size: 256n, offset: 7n << 40n, caps: [] };
    return { index, flags: 0, size: 0n, offset: BigInt(index) << 40n, caps: [] };
  }
  async read(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) return this.config.readBytes(Number(offset), length);
    if (index !== 0 || length !== 4) throw new VfioSystemError("region read", errnoValue("EINVAL"), "emulated", this.name);
    const v = Number(this.model.barRead(0, offset, 4));
    return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  }
  async write(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) return this.config.writeBytes(Number(offset), data);
    if (index !== 0 || data.length !== 4) throw new VfioSystemError("region write", errnoValue("EINVAL"), "emulated", this.name);
    this.model.barWrite(0, offset, 4, BigInt((data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0));
  }
  async mapRegion(index: number): Promise<RegionMapping> {
    if (index !== 0 || !this.mmap) throw new VfioSystemError("mmap", errnoValue("EINVAL"), "emulated", this.name);
    const model = this.model;
    let live = true;
    const r = (o: number, s: AccessSize): bigint => {
      if (!live) throw new Error("unmapped");
      return model.barRead(0, BigInt(o), s);
    };
    const w = (o: number, s: AccessSize, v: bigint): void => {
      if (!live) throw new Error("unmapped");
      model.barWrite(0, BigInt(o), s, v);
    };
    const unmap = (): void => {
      live = false;
    };
    return {
      index, offset: 0n, size: 1 << 20, bytes: undefined,
      read8: (o) => Number(r(o, 1)), read16: (o) => Number(r(o, 2)), read32: (o) => Number(r(o, 4)), read64: (o) => r(o, 8),
      write8: (o, v) => w(o, 1, BigInt(v)), write16: (o, v) => w(o, 2, BigInt(v)), write32: (o, v) => w(o, 4, BigInt(v)), write64: (o, v) => w(o, 8, v),
      unmap, [Symbol.dispose]: unmap,
    };
  }
  async irqInfo(index: number): Promise<IrqInfo> {
    return { index, flags: VFIO_IRQ_INFO_EVENTFD, count: index === VFIO_PCI_MSI_IRQ_INDEX ? 1 : index === 0 ? 1 : 0 };
  }
  /** MSI only, as vfio-pci programs it: enable with an address and data, or disable. */
  async setIrqs(request: IrqSetRequest): Promise<void> {
    if (request.index !== VFIO_PCI_MSI_IRQ_INDEX) throw new VfioSystemError("VFIO_DEVICE_SET_IRQS", errnoValue("EINVAL"), "emulated", this.name);
    if (request.count === 0) {
      this.msiTrigger = undefined;
      this.config.write(0x42, 2, this.config.read(0x42, 2) & ~1);
      return;
    }
    if (!(request.flags & VFIO_IRQ_SET_DATA_EVENTFD)) throw new VfioSystemError("VFIO_DEVICE_SET_IRQS", errnoValue("EINVAL"), "emulated", this.name);
    this.msiTrigger = request.notifiers?.[0] ?? undefined;
    this.config.write(0x44, 4, 0xfee00000);
    this.config.write(0x4c, 2, 0x4021);
    this.config.write(0x42, 2, this.config.read(0x42, 2) | 1);
  }
  createNotifier(): EventNotifier {
    return new TestNotifier();
  }
  async reset(): Promise<void> {
    this.model.reset();
    this.config.reset();
  }
  async close(): Promise<void> {}
  async [Symbol.asyncDispose](): Promise<void> {}
}
