/**
 * KernelSystem: the real machine's VFIO, as api/ VfioSystem. Opens /dev/vfio/vfio and
 * /dev/vfio/N, allocates memfd memory for DMA, makes eventfd notifiers, and owns all of them:
 * `close()` closes containers (with their groups and devices), then stray groups, memory and
 * notifiers.
 */
import { readFileSync } from "node:fs";
import type { EventNotifier } from "../api/event-notifier.js";
import type { Sysfs } from "../api/sysfs.js";
import type { VfioSystem } from "../api/vfio-system.js";
import { errnoValue } from "../api/errors.js";
import { syscallError, type KernelContext } from "./context.js";
import { KernelContainer } from "./container.js";
import { KernelEventNotifier } from "../native/event-notifier.js";
import { explainGroupBusy, explainNoContainer, explainNoGroup, explainNotPermitted, safeHint } from "../api/explain.js";
import { KernelGroup } from "./group.js";
import { O_CLOEXEC, O_RDWR, loadLibc, type Libc } from "../native/libc.js";
import { processLockedMemory, type LockedMemory } from "./memlock.js";
import { allocateMemfd, PAGE_SIZE, type MemfdMemory } from "../native/process-memory.js";
import { directorySysfs } from "./sysfs.js";

export interface KernelSystemOptions {
  /** The syscall surface (default: the C library through koffi). */
  readonly libc?: Libc;
  /** sysfs for explanations (default: /sys). */
  readonly sysfs?: Sysfs;
  /** Where the VFIO device nodes are (default: /dev/vfio). */
  readonly devVfio?: string;
  /** Locked-memory facts (default: this process's). */
  readonly lockedMemory?: LockedMemory;
}

/** Linux VFIO through ioctls. */
export class KernelSystem implements VfioSystem, AsyncDisposable {
  readonly description: string;
  readonly sysfs: Sysfs;
  readonly pageSize = PAGE_SIZE;
  readonly #ctx: KernelContext;
  readonly #containers = new Set<KernelContainer>();
  readonly #groups = new Set<KernelGroup>();
  readonly #memory = new Set<MemfdMemory>();
  readonly #notifiers = new Set<KernelEventNotifier>();

  constructor(options: KernelSystemOptions = {}) {
    const libc = options.libc ?? loadLibc();
    this.sysfs = options.sysfs ?? directorySysfs();
    this.#ctx = {
      libc,
      sysfs: this.sysfs,
      lockedMemory: options.lockedMemory ?? processLockedMemory(libc),
      devVfio: options.devVfio ?? "/dev/vfio",
    };
    this.description = `Linux ${osRelease()}`;
  }

  /** Open containers, groups, memory and notifiers this system owns (for leak checks). */
  get open(): { containers: number; groups: number; memory: number; notifiers: number } {
    return { containers: this.#containers.size, groups: this.#groups.size, memory: this.#memory.size, notifiers: this.#notifiers.size };
  }

  async openContainer(): Promise<KernelContainer> {
    const path = `${this.#ctx.devVfio}/vfio`;
    const fd = this.#ctx.libc.open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) throw syscallError("open", fd, path, await safeHint(() => this.#openHint(-fd, path)));
    const container = new KernelContainer(this.#ctx, fd, () => this.#containers.delete(container));
    this.#containers.add(container);
    return container;
  }

  async openGroup(id: number, options: { readonly noiommu?: boolean } = {}): Promise<KernelGroup> {
    if (!Number.isSafeInteger(id) || id < 0) throw syscallError("open", -errnoValue("ENOENT"), `group ${id}`, "a group number is a non-negative integer");
    // A fake no-IOMMU group's node is /dev/vfio/noiommu-N (vfio_group_alloc, drivers/vfio/vfio_main.c).
    const path = `${this.#ctx.devVfio}/${options.noiommu ? "noiommu-" : ""}${id}`;
    const fd = this.#ctx.libc.open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) throw syscallError("open", fd, path, await safeHint(() => this.#openHint(-fd, path, id)));
    const group = new KernelGroup(this.#ctx, id, fd, () => this.#groups.delete(group));
    this.#groups.add(group);
    return group;
  }

  allocateMemory(size: number, options: { readonly hugepages?: boolean } = {}): MemfdMemory {
    const memory = allocateMemfd(this.#ctx.libc, size, options, () => this.#memory.delete(memory));
    this.#memory.add(memory);
    return memory;
  }

  createNotifier(): EventNotifier {
    const notifier = new KernelEventNotifier(this.#ctx.libc, () => this.#notifiers.delete(notifier));
    this.#notifiers.add(notifier);
    return notifier;
  }

  /** Closes everything this system opened: containers (groups, devices), groups, notifiers, memory. Idempotent. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const container of [...this.#containers].reverse()) await attempt(() => container.close());
    for (const group of [...this.#groups].reverse()) await attempt(() => group.close());
    for (const notifier of [...this.#notifiers]) await attempt(() => notifier.close());
    // Memory last: once its container is closed, nothing pins these pages any more.
    for (const memory of [...this.#memory]) await attempt(() => memory.free());
    if (errors.length > 0) throw errors[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #openHint(errno: number, path: string, group?: number): Promise<string | undefined> {
    if (errno === errnoValue("ENOENT")) return group === undefined ? explainNoContainer(this.sysfs) : explainNoGroup(this.sysfs, group);
    if (errno === errnoValue("EACCES") || errno === errnoValue("EPERM")) return explainNotPermitted(path);
    if (errno === errnoValue("EBUSY") && group !== undefined) return explainGroupBusy(group);
    if (errno === errnoValue("EMFILE")) return "too many open files: raise RLIMIT_NOFILE (ulimit -n) or close containers and groups";
    return undefined;
  }
}

function osRelease(): string {
  try {
    return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    return "(unknown release)";
  }
}
