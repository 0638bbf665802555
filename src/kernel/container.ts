/**
 * A VFIO container, /dev/vfio/vfio: the IOMMU context that groups join and DMA mappings live
 * in (Documentation/driver-api/vfio.rst, "VFIO Usage Example"). Type1 only: VFIO_SET_IOMMU,
 * VFIO_IOMMU_GET_INFO with its capability chain, VFIO_IOMMU_MAP_DMA / UNMAP_DMA.
 */
import { closeChildren } from "./close-children.js";
import type { Container, DmaMapRequest, DmaUnmapRequest, IommuInfo } from "../api/container.js";
import { errnoValue } from "../api/errors.js";
import { callWithArgsz } from "../abi/argsz.js";
import { decodeIommuCaps } from "../abi/cap-chain.js";
import {
  VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU,
} from "../abi/ioctl-number.js";
import { dmaMapLayout, dmaUnmapLayout } from "../abi/vfio/dma-map.js";
import { iommuInfoLayout } from "../abi/vfio/iommu-info.js";
import { syscallError, type KernelContext } from "./context.js";
import { formatBytes } from "../api/format-bytes.js";
import { MemlockBudget } from "./memlock.js";

const settled = Promise.resolve();
// Word indices of the fields mapDma and unmapDma store (offsets from the layouts in abi/).
const MAP_FLAGS = dmaMapLayout.offsets.flags >>> 2;
const MAP_VADDR = dmaMapLayout.offsets.vaddr >>> 3;
const MAP_IOVA = dmaMapLayout.offsets.iova >>> 3;
const MAP_SIZE = dmaMapLayout.offsets.size >>> 3;
const UNMAP_FLAGS = dmaUnmapLayout.offsets.flags >>> 2;
const UNMAP_IOVA = dmaUnmapLayout.offsets.iova >>> 3;
const UNMAP_SIZE = dmaUnmapLayout.offsets.size >>> 3;

/** What a container needs of the groups attached to it. */
export interface AttachedGroup {
  readonly id: number;
  close(): Promise<void>;
}

/** /dev/vfio/vfio opened. Create with KernelSystem.openContainer(). */
export class KernelContainer implements Container {
  #fd: number;
  readonly #ctx: KernelContext;
  readonly #groups = new Set<AttachedGroup>();
  #iommuType: number | undefined;
  /** A number, not a bigint: the sum of mapping sizes stays far below 2^53, and adding numbers allocates nothing. */
  #mappedBytes = 0;
  #onClose: (() => void) | undefined;
  readonly #memlock: MemlockBudget;
  // The MAP_DMA and UNMAP_DMA argument blocks, built once per container (argsz never changes): a
  // call stores only the fields that vary, as words, with no struct codec and no allocation.
  readonly #map = new Uint8Array(new ArrayBuffer(dmaMapLayout.size));
  readonly #map32 = new Uint32Array(this.#map.buffer);
  readonly #map64 = new BigUint64Array(this.#map.buffer);
  readonly #unmap = new Uint8Array(new ArrayBuffer(dmaUnmapLayout.size));
  readonly #unmap32 = new Uint32Array(this.#unmap.buffer);
  readonly #unmap64 = new BigUint64Array(this.#unmap.buffer);

  /** @internal Takes ownership of `fd`. */
  constructor(ctx: KernelContext, fd: number, onClose?: () => void) {
    this.#ctx = ctx;
    this.#fd = fd;
    this.#onClose = onClose;
    this.#memlock = new MemlockBudget(ctx.lockedMemory);
    dmaMapLayout.encode({ argsz: dmaMapLayout.size }, this.#map);
    dmaUnmapLayout.encode({ argsz: dmaUnmapLayout.size }, this.#unmap);
  }

  /** The container fd; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The IOMMU model set with setIommu(), until the last group leaves (the kernel then drops it). */
  get iommuType(): number | undefined {
    return this.#iommuType;
  }

  /** Bytes mapped through this container and not yet unmapped. */
  get mappedBytes(): bigint {
    return BigInt(this.#mappedBytes);
  }

  /** Groups attached to this container. */
  get groups(): readonly AttachedGroup[] {
    return [...this.#groups];
  }

  get #target(): string {
    return `container ${this.#ctx.devVfio}/vfio`;
  }

  async apiVersion(): Promise<number> {
    const result = this.#ctx.libc.ioctlValue(this.#liveFd("VFIO_GET_API_VERSION"), VFIO_GET_API_VERSION, 0);
    if (result < 0) throw syscallError("VFIO_GET_API_VERSION", result, this.#target);
    return result;
  }

  async checkExtension(extension: number): Promise<number> {
    const result = this.#ctx.libc.ioctlValue(this.#liveFd("VFIO_CHECK_EXTENSION"), VFIO_CHECK_EXTENSION, extension);
    if (result < 0) throw syscallError("VFIO_CHECK_EXTENSION", result, this.#target);
    return result;
  }

  async setIommu(type: number): Promise<void> {
    const result = this.#ctx.libc.ioctlValue(this.#liveFd("VFIO_SET_IOMMU"), VFIO_SET_IOMMU, type);
    if (result < 0) {
      let hint: string | undefined;
      if (this.#groups.size === 0) hint = "the container has no group yet: call VFIO_GROUP_SET_CONTAINER on a group first";
      else if (this.#iommuType !== undefined) hint = `the container already has IOMMU model ${this.#iommuType}`;
      else if (-result === errnoValue("ENODEV") || -result === errnoValue("EINVAL")) {
        hint = `IOMMU model ${type} is not available here (is vfio_iommu_type1 loaded? see VFIO_CHECK_EXTENSION)`;
      }
      throw syscallError("VFIO_SET_IOMMU", result, this.#target, hint);
    }
    this.#iommuType = type;
  }

  async iommuInfo(): Promise<IommuInfo> {
    const fd = this.#liveFd("VFIO_IOMMU_GET_INFO");
    const buffer = await callWithArgsz({ layout: iommuInfoLayout }, (b) => {
      const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_IOMMU_GET_INFO, b);
      if (result < 0) throw syscallError("VFIO_IOMMU_GET_INFO", result, this.#target, this.#noIommuHint());
    });
    const info = iommuInfoLayout.decode(buffer);
    const caps = decodeIommuCaps({ buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: iommuInfoLayout.size, flags: info.flags });
    return { flags: info.flags, iovaPgsizes: info.iovaPgsizes, ...caps };
  }

  // mapDma and unmapDma are the per-I/O path of drivers that map dynamically (a vIOMMU, DPDK-style
  // mapping per buffer): no async frame, a settled promise instead, and a thrown error becomes a
  // rejection as from an async method. The await is then the caller's only cost beyond the ioctl.
  mapDma(request: DmaMapRequest): Promise<void> {
    try {
      this.mapDmaSync(request);
      return settled;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  unmapDma(request: DmaUnmapRequest): Promise<bigint> {
    try {
      return Promise.resolve(this.unmapDmaSync(request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * VFIO_IOMMU_MAP_DMA without a promise, for a caller that maps per I/O and cannot afford an
   * await per call (in the TCG guest an await costs about a sixth of the ioctl). Throws
   * VfioSystemError as mapDma rejects.
   */
  mapDmaSync(request: DmaMapRequest): void {
    const fd = this.#liveFd("VFIO_IOMMU_MAP_DMA");
    const shortfall = this.#memlock.shortfall(request.size);
    if (shortfall) throw this.#memlockError(request.size, shortfall);
    const words = this.#map32;
    const quads = this.#map64;
    words[MAP_FLAGS] = request.flags;
    quads[MAP_VADDR] = request.vaddr;
    quads[MAP_IOVA] = request.iova;
    quads[MAP_SIZE] = request.size;
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_IOMMU_MAP_DMA, this.#map);
    if (result < 0) {
      const memlock = -result === errnoValue("ENOMEM") ? this.#memlock.explain(request.size) : undefined;
      if (memlock) throw this.#memlockError(request.size, memlock);
      throw syscallError("VFIO_IOMMU_MAP_DMA", result, this.#target, this.#mapHint(-result, request));
    }
    this.#memlock.account(request.size);
    this.#mappedBytes += Number(request.size);
  }

  /** VFIO_IOMMU_UNMAP_DMA without a promise: returns the size actually unmapped; throws as unmapDma rejects. */
  unmapDmaSync(request: DmaUnmapRequest): bigint {
    const fd = this.#liveFd("VFIO_IOMMU_UNMAP_DMA");
    const words = this.#unmap32;
    const quads = this.#unmap64;
    words[UNMAP_FLAGS] = request.flags;
    quads[UNMAP_IOVA] = request.iova;
    quads[UNMAP_SIZE] = request.size;
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_IOMMU_UNMAP_DMA, this.#unmap);
    if (result < 0) {
      const hint = this.#iommuType === undefined ? this.#noIommuHint()
        : -result === errnoValue("EINVAL") ? "with type1v2 an unmap must cover whole mappings, page-aligned: it may not split one" : undefined;
      throw syscallError("VFIO_IOMMU_UNMAP_DMA", result, this.#target, hint);
    }
    // The kernel writes back the size it actually unmapped (vfio_dma_do_unmap: unmap->size).
    const unmapped = quads[UNMAP_SIZE]!;
    if (unmapped > 0n) {
      this.#memlock.account(-unmapped);
      this.#mappedBytes -= Number(unmapped);
      if (this.#mappedBytes < 0) this.#mappedBytes = 0;
    }
    return unmapped;
  }

  #memlockError(size: bigint, shortfall: { limit: bigint; locked: bigint }): Error {
    return syscallError(
      "VFIO_IOMMU_MAP_DMA",
      -errnoValue("ENOMEM"),
      this.#target,
      `mapping ${formatBytes(size)} would lock ${formatBytes(shortfall.locked + size)}, over RLIMIT_MEMLOCK ` +
        `(${formatBytes(shortfall.limit)}; ${formatBytes(shortfall.locked)} already locked): raise it (ulimit -l, ` +
        `LimitMEMLOCK= in systemd, /etc/security/limits.conf) or run with CAP_IPC_LOCK`,
    );
  }

  /** Closes every attached group (and so their devices), then the container fd. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Devices and groups first: the kernel keeps the container (and its pinned pages) alive
    // while a group is attached, and a group cannot leave while its devices are open (EBUSY).
    const errors = await closeChildren(this.#groups);
    this.#ctx.libc.close(this.#fd);
    this.#fd = -1;
    this.#groups.clear();
    this.#iommuType = undefined;
    this.#mappedBytes = 0;
    this.#memlock.forget();
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
    if (errors.length > 0) throw errors[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal A group joined (VFIO_GROUP_SET_CONTAINER succeeded). */
  attachGroup(group: AttachedGroup): void {
    this.#groups.add(group);
  }

  /** @internal A group left (UNSET_CONTAINER or its fd closed). The last to leave takes the IOMMU model with it. */
  detachGroup(group: AttachedGroup): void {
    if (!this.#groups.delete(group)) return;
    if (this.#groups.size === 0) {
      // vfio_group_detach_container (Linux 6.1): detaching the last group releases the IOMMU
      // driver, and with it every DMA mapping.
      this.#iommuType = undefined;
      this.#mappedBytes = 0;
      this.#memlock.forget();
    }
  }

  #liveFd(op: Parameters<typeof syscallError>[0]): number {
    if (this.#fd < 0) throw syscallError(op, -errnoValue("EBADF"), this.#target, "the container is closed");
    return this.#fd;
  }

  #noIommuHint(): string | undefined {
    if (this.#iommuType !== undefined) return undefined;
    return this.#groups.size === 0
      ? "the container has no group and no IOMMU model: VFIO_GROUP_SET_CONTAINER, then VFIO_SET_IOMMU, come first"
      : "the container has no IOMMU model yet: call VFIO_SET_IOMMU (type1v2) first";
  }

  #mapHint(errno: number, request: DmaMapRequest): string | undefined {
    const at = `IOVA 0x${request.iova.toString(16)} size 0x${request.size.toString(16)}`;
    if (this.#iommuType === undefined) return this.#noIommuHint();
    if (errno === errnoValue("EEXIST")) return `${at} overlaps an existing mapping: unmap it first or choose another IOVA`;
    if (errno === errnoValue("EINVAL")) return `${at}: IOVA, vaddr and size must be page-aligned, size non-zero, flags READ and/or WRITE, inside the IOVA ranges (VFIO_IOMMU_GET_INFO)`;
    if (errno === errnoValue("ENOSPC")) return "the container's mapping limit is reached (vfio_iommu_type1 dma_entry_limit, DMA_AVAIL in VFIO_IOMMU_GET_INFO)";
    if (errno === errnoValue("EFAULT")) return `vaddr 0x${request.vaddr.toString(16)} is not mapped memory of this process`;
    if (errno === errnoValue("ENOMEM")) return "the kernel could not pin the pages: RLIMIT_MEMLOCK (ulimit -l) is the usual cause";
    return undefined;
  }
}
