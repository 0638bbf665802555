/**
 * A VFIO device fd: info, regions (pread/pwrite at the region's offset in the fd, mmap where
 * the region allows), interrupts (VFIO_DEVICE_SET_IRQS with eventfds) and reset
 * (include/uapi/linux/vfio.h, "Device" ioctls; vfio-pci encodes the region index in bits 40+
 * of the fd offset, but the offset always comes from VFIO_DEVICE_GET_REGION_INFO here).
 */
import type { RegionMapping, VfioDevice } from "../api/device.js";
import type { DeviceInfo, IrqInfo, RegionCap, RegionInfo, SparseMmapArea } from "../api/device-info.js";
import type { EventNotifier } from "../api/event-notifier.js";
import type { IrqSetRequest } from "../api/irq-set.js";
import {
  VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
} from "../api/constants.js";
import { errnoValue } from "../api/errors.js";
import { callWithArgsz } from "../abi/argsz.js";
import { decodeRegionCaps } from "../abi/cap-chain.js";
import { encodeIrqSet } from "../abi/irq-set.js";
import {
  VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
} from "../abi/ioctl-number.js";
import { deviceInfoLayout } from "../abi/vfio/device-info.js";
import { irqInfoLayout } from "../abi/vfio/irq-info.js";
import { regionInfoLayout } from "../abi/vfio/region-info.js";
import { syscallError, type KernelContext } from "./context.js";
import { KernelEventNotifier } from "../native/event-notifier.js";
import { MAP_SHARED, PROT_READ, PROT_WRITE } from "../native/libc.js";
import { PAGE_SIZE } from "../native/process-memory.js";
import { MmapRegionMapping } from "../native/region-mapping.js";

/** A device fd from VFIO_GROUP_GET_DEVICE_FD. Create with KernelGroup.openDevice(). */
export class KernelDevice implements VfioDevice {
  #fd: number;
  readonly #ctx: KernelContext;
  readonly #regions = new Map<number, RegionInfo>();
  readonly #mappings = new Set<MmapRegionMapping>();
  readonly #notifiers = new Set<KernelEventNotifier>();
  #onClose: (() => void) | undefined;

  /** @internal Takes ownership of `fd`. */
  constructor(ctx: KernelContext, readonly name: string, fd: number, readonly group: number, onClose?: () => void) {
    this.#ctx = ctx;
    this.#fd = fd;
    this.#onClose = onClose;
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Region mappings made through this device and not yet unmapped. */
  get mappings(): readonly RegionMapping[] {
    return [...this.#mappings];
  }

  get #target(): string {
    return `device ${this.name}`;
  }

  async info(): Promise<DeviceInfo> {
    const fd = this.#liveFd("VFIO_DEVICE_GET_INFO");
    const buffer = await callWithArgsz({ layout: deviceInfoLayout }, (b) => {
      const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_DEVICE_GET_INFO, b);
      if (result < 0) throw syscallError("VFIO_DEVICE_GET_INFO", result, this.#target);
    });
    const info = deviceInfoLayout.decode(buffer);
    return { flags: info.flags, numRegions: info.numRegions, numIrqs: info.numIrqs };
  }

  async regionInfo(index: number): Promise<RegionInfo> {
    const cached = this.#regions.get(index);
    if (cached) return cached;
    const fd = this.#liveFd("VFIO_DEVICE_GET_REGION_INFO");
    const buffer = await callWithArgsz({ layout: regionInfoLayout, input: { index } }, (b) => {
      const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_DEVICE_GET_REGION_INFO, b);
      if (result < 0) {
        const hint = -result === errnoValue("EINVAL") ? `the device has no region ${index} (past num_regions, or one it lacks, such as VGA on a non-VGA device)` : undefined;
        throw syscallError("VFIO_DEVICE_GET_REGION_INFO", result, this.#target, hint);
      }
    });
    const info = regionInfoLayout.decode(buffer);
    const caps: RegionCap[] = decodeRegionCaps({ buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: regionInfoLayout.size, flags: info.flags });
    const region: RegionInfo = { index: info.index, flags: info.flags, size: info.size, offset: info.offset, caps };
    this.#regions.set(index, region);
    return region;
  }

  /**
   * pread at `offset` of region `index`. Any offset and size: vfio-pci splits the access into
   * naturally aligned ones (vfio_pci_bar_rw, vfio_pci_config_rw). As the kernel does, a read
   * that starts inside the region but crosses its end is cut short: the result is shorter.
   */
  async read(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    const fd = this.#liveFd("region read");
    const region = await this.#regionFor("region read", index);
    const into = new Uint8Array(length);
    const result = this.#ctx.libc.pread(fd, into, region.offset + offset);
    if (result < 0) throw syscallError("region read", result, `${this.#target} region ${index}`, this.#accessHint(-result, region, offset, length));
    return result === length ? into : into.subarray(0, result);
  }

  /** pwrite at `offset` of region `index`. A write cut short at the region's end rejects with EINVAL. */
  async write(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    const fd = this.#liveFd("region write");
    const region = await this.#regionFor("region write", index);
    const result = this.#ctx.libc.pwrite(fd, data, region.offset + offset);
    if (result < 0) throw syscallError("region write", result, `${this.#target} region ${index}`, this.#accessHint(-result, region, offset, data.byteLength));
    if (result < data.byteLength) {
      throw syscallError("region write", -errnoValue("EINVAL"), `${this.#target} region ${index}`, `only ${result} of ${data.byteLength} bytes written: the write crosses the end of the ${region.size}-byte region`);
    }
  }

  /**
   * mmaps `size` bytes at `offset` of region `index`. The region must have the MMAP flag, the
   * window must be page-aligned, and, where the region has a sparse-mmap capability, lie inside
   * one of its areas (vfio-pci leaves the MSI-X table out of them unless MSIX_MAPPABLE).
   * Defaults: offset 0; size the whole region, or the sparse area that contains `offset`.
   */
  async mapRegion(index: number, offset = 0n, size?: bigint): Promise<RegionMapping> {
    return this.mapKernelRegion(index, offset, size);
  }

  /** mapRegion() with the concrete type (it has the mapping's address). */
  async mapKernelRegion(index: number, offset = 0n, size?: bigint): Promise<MmapRegionMapping> {
    const fd = this.#liveFd("mmap");
    const region = await this.#regionFor("mmap", index);
    const target = `${this.#target} region ${index}`;
    const refuse = (why: string) => syscallError("mmap", -errnoValue("EINVAL"), target, why);
    if ((region.flags & VFIO_REGION_INFO_FLAG_MMAP) === 0) throw refuse(`region ${index} cannot be mmapped (no VFIO_REGION_INFO_FLAG_MMAP): use read()/write()`);
    const areas = sparseAreas(region);
    let length = size;
    if (length === undefined) {
      const area = areas?.find((a) => offset >= a.offset && offset < a.offset + a.size);
      if (areas && !area) throw refuse(`offset 0x${offset.toString(16)} is in none of the region's sparse mmap areas ${describeAreas(areas)}`);
      length = area ? area.offset + area.size - offset : region.size - offset;
    }
    if (offset < 0n || length <= 0n || offset + length > region.size) throw refuse(`0x${offset.toString(16)}+0x${length.toString(16)} is outside the 0x${region.size.toString(16)}-byte region`);
    if (offset % BigInt(PAGE_SIZE) !== 0n) throw refuse(`offset 0x${offset.toString(16)} is not page-aligned`);
    if (areas && !areas.some((a) => offset >= a.offset && offset + length! <= a.offset + a.size)) {
      throw refuse(`0x${offset.toString(16)}+0x${length.toString(16)} is not inside one sparse mmap area ${describeAreas(areas)}`);
    }
    if (length > BigInt(Number.MAX_SAFE_INTEGER)) throw refuse("the window is too large for this process");
    const prot = ((region.flags & VFIO_REGION_INFO_FLAG_READ) !== 0 ? PROT_READ : 0) | ((region.flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0 ? PROT_WRITE : 0);
    const address = this.#ctx.libc.mmap(Number(length), prot, MAP_SHARED, fd, region.offset + offset);
    if (address < 0n) throw syscallError("mmap", address, target);
    const mapping = new MmapRegionMapping(this.#ctx.libc, index, offset, Number(length), address, () => this.#mappings.delete(mapping), (prot & PROT_WRITE) !== 0);
    this.#mappings.add(mapping);
    return mapping;
  }

  async irqInfo(index: number): Promise<IrqInfo> {
    const fd = this.#liveFd("VFIO_DEVICE_GET_IRQ_INFO");
    const buffer = irqInfoLayout.encode({ argsz: irqInfoLayout.size, index });
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_DEVICE_GET_IRQ_INFO, buffer);
    if (result < 0) {
      const hint = -result === errnoValue("EINVAL") ? `the device has no IRQ index ${index} (past num_irqs, or one it lacks, such as ERR on conventional PCI)` : undefined;
      throw syscallError("VFIO_DEVICE_GET_IRQ_INFO", result, this.#target, hint);
    }
    const info = irqInfoLayout.decode(buffer);
    return { index: info.index, flags: info.flags, count: info.count };
  }

  async setIrqs(request: IrqSetRequest): Promise<void> {
    const fd = this.#liveFd("VFIO_DEVICE_SET_IRQS");
    const buffer = encodeIrqSet(request);
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_DEVICE_SET_IRQS, buffer);
    if (result < 0) throw syscallError("VFIO_DEVICE_SET_IRQS", result, `${this.#target} IRQ index ${request.index}`);
  }

  createNotifier(): EventNotifier {
    return this.createKernelNotifier();
  }

  /** createNotifier() with the concrete type; the device closes it when it closes. */
  createKernelNotifier(): KernelEventNotifier {
    this.#liveFd("eventfd");
    const notifier = new KernelEventNotifier(this.#ctx.libc, () => this.#notifiers.delete(notifier));
    this.#notifiers.add(notifier);
    return notifier;
  }

  async reset(): Promise<void> {
    const result = this.#ctx.libc.ioctlValue(this.#liveFd("VFIO_DEVICE_RESET"), VFIO_DEVICE_RESET, 0);
    if (result < 0) {
      const hint = -result === errnoValue("EINVAL") || -result === errnoValue("ENOTTY")
        ? "the device has no reset method VFIO can use (VFIO_DEVICE_FLAGS_RESET clear): FLR, PM reset or a bus reset of its slot" : undefined;
      throw syscallError("VFIO_DEVICE_RESET", result, this.#target, hint);
    }
  }

  /**
   * Unmaps its regions, closes its notifiers, then closes the fd; the kernel then disables the
   * device's interrupts and resets it (vfio_pci_core_close_device). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    // The mmaps hold a reference to the device file: the device is not released until they go.
    for (const mapping of [...this.#mappings]) mapping.unmap();
    for (const notifier of [...this.#notifiers]) notifier.close();
    this.#ctx.libc.close(this.#fd);
    this.#fd = -1;
    this.#regions.clear();
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #liveFd(op: Parameters<typeof syscallError>[0]): number {
    if (this.#fd < 0) throw syscallError(op, -errnoValue("EBADF"), this.#target, "the device is closed");
    return this.#fd;
  }

  async #regionFor(op: Parameters<typeof syscallError>[0], index: number): Promise<RegionInfo> {
    try {
      return await this.regionInfo(index);
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      if (typeof errno === "number") throw syscallError(op, -errno, `${this.#target} region ${index}`, (error as { hint?: string }).hint);
      throw error;
    }
  }

  #accessHint(errno: number, region: RegionInfo, offset: bigint, length: number): string | undefined {
    if (errno !== errnoValue("EINVAL")) return undefined;
    if (offset >= region.size) return `offset 0x${offset.toString(16)} is past the end of the 0x${region.size.toString(16)}-byte region`;
    if ((region.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) === 0) return "the region is not accessible (no READ/WRITE flag)";
    return `${length} bytes at 0x${offset.toString(16)}`;
  }
}

function sparseAreas(region: RegionInfo): readonly SparseMmapArea[] | undefined {
  const cap = region.caps.find((c) => c.kind === "sparse-mmap");
  return cap && cap.kind === "sparse-mmap" ? cap.areas : undefined;
}

function describeAreas(areas: readonly SparseMmapArea[]): string {
  return `[${areas.map((a) => `0x${a.offset.toString(16)}+0x${a.size.toString(16)}`).join(", ")}]`;
}
