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
import { memlockShortfall } from "./memlock.js";

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
  #mappedBytes = 0n;
  #onClose: (() => void) | undefined;
  readonly #map = new Uint8Array(dmaMapLayout.size);
  readonly #unmap = new Uint8Array(dmaUnmapLayout.size);

  /** @internal Takes ownership of `fd`. */
  constructor(ctx: KernelContext, fd: number, onClose?: () => void) {
    this.#ctx = ctx;
    this.#fd = fd;
    this.#onClose = onClose;
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
    return this.#mappedBytes;
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

  async mapDma(request: DmaMapRequest): Promise<void> {
    const fd = this.#liveFd("VFIO_IOMMU_MAP_DMA");
    const shortfall = memlockShortfall(this.#ctx.lockedMemory, request.size);
    if (shortfall) {
      throw syscallError(
        "VFIO_IOMMU_MAP_DMA",
        -errnoValue("ENOMEM"),
        this.#target,
        `mapping ${formatBytes(request.size)} would lock ${formatBytes(shortfall.locked + request.size)}, over RLIMIT_MEMLOCK ` +
          `(${formatBytes(shortfall.limit)}; ${formatBytes(shortfall.locked)} already locked): raise it (ulimit -l, ` +
          `LimitMEMLOCK= in systemd, /etc/security/limits.conf) or run with CAP_IPC_LOCK`,
      );
    }
    dmaMapLayout.encode({ argsz: dmaMapLayout.size, flags: request.flags, vaddr: request.vaddr, iova: request.iova, size: request.size }, this.#map);
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_IOMMU_MAP_DMA, this.#map);
    if (result < 0) throw syscallError("VFIO_IOMMU_MAP_DMA", result, this.#target, this.#mapHint(-result, request));
    this.#mappedBytes += request.size;
  }

  async unmapDma(request: DmaUnmapRequest): Promise<bigint> {
    const fd = this.#liveFd("VFIO_IOMMU_UNMAP_DMA");
    dmaUnmapLayout.encode({ argsz: dmaUnmapLayout.size, flags: request.flags, iova: request.iova, size: request.size }, this.#unmap);
    const result = this.#ctx.libc.ioctlBuffer(fd, VFIO_IOMMU_UNMAP_DMA, this.#unmap);
    if (result < 0) {
      const hint = this.#iommuType === undefined ? this.#noIommuHint()
        : -result === errnoValue("EINVAL") ? "with type1v2 an unmap must cover whole mappings, page-aligned: it may not split one" : undefined;
      throw syscallError("VFIO_IOMMU_UNMAP_DMA", result, this.#target, hint);
    }
    // The kernel writes back the size it actually unmapped (vfio_dma_do_unmap: unmap->size).
    const unmapped = dmaUnmapLayout.decode(this.#unmap).size;
    if (unmapped > 0n) {
      this.#mappedBytes -= unmapped;
      if (this.#mappedBytes < 0n) this.#mappedBytes = 0n;
    }
    return unmapped;
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
    this.#mappedBytes = 0n;
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
      this.#mappedBytes = 0n;
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
