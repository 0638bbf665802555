/**
 * EmulatedUioSystem: what a process sees of UIO on the emulated machine, as api/ UioSystem, so
 * the UIO backend (uio/) runs on it unchanged:
 *
 * - `config` reads and writes go to the function's config space with no filtering (sysfs
 *   pci_write_config: root writes the real registers); clearing Interrupt Disable while the
 *   line is still asserted re-raises it, as the INTx wire does;
 * - `resourceN` mappings reach the device model; with Memory Space disabled an access faults
 *   (SIGBUS on Linux, a thrown error here);
 * - `/dev/uioN` counts uio_pci_generic's handled interrupts (uio-driver.ts);
 * - pinned memory is frames of the machine's physical memory, and pagemap shows their frame
 *   numbers, or zeros without CAP_SYS_ADMIN (fs/proc/task_mmu.c).
 */
import type { RegionMapping } from "../../api/device.js";
import type { EventNotifier } from "../../api/event-notifier.js";
import type { Sysfs } from "../../api/sysfs.js";
import type { ConfigFile, PinnedMemory, UioEventFile, UioSystem } from "../../api/uio-system.js";
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MEMORY } from "../../api/constants.js";
import { VfioError, VfioSystemError, errnoValue } from "../../api/errors.js";
import type { Machine } from "../machine.js";
import { InProcessNotifier } from "../notifier.js";
import type { PciFunction } from "../pci/function.js";
import { ModelMapping } from "../pci/model-mapping.js";
import { renderSysfs } from "../sysfs/emulated-sysfs.js";
import { readBar, writeBar } from "../../devices/pci/bar-routing.js";

const PAGE = 4096;
const PRESENT = 1n << 63n;

export interface EmulatedUioOptions {
  /** The process has CAP_SYS_ADMIN, so pagemap shows frame numbers (default true). */
  readonly capSysAdmin?: boolean;
}

export class EmulatedUioSystem implements UioSystem {
  readonly pageSize = PAGE;
  /** Pinned allocations by virtual page number. */
  private readonly pages = new Map<bigint, number>();
  private nextVaddr = 0x7e00_0000_0000n;

  constructor(readonly machine: Machine, private readonly options: EmulatedUioOptions = {}) {}

  get description(): string {
    return `emulated machine: ${this.machine.description}`;
  }

  get sysfs(): Sysfs {
    return renderSysfs(this.machine);
  }

  private fn(name: string, file: string): PciFunction {
    const fn = this.machine.fn(name);
    if (!fn) throw new VfioSystemError("open", errnoValue("ENOENT"), "syscall", `/sys/bus/pci/devices/${name}/${file}`);
    return fn;
  }

  openConfig(name: string): ConfigFile {
    const fn = this.fn(name, "config");
    const machine = this.machine;
    let open = true;
    const live = (): void => {
      if (!open) throw new VfioSystemError("config read", errnoValue("EBADF"), "sysfs", `${name} config`);
    };
    return {
      read(offset, length) {
        live();
        const end = Math.min(fn.cfgSize, offset + length);
        const out = new Uint8Array(Math.max(0, end - offset));
        for (let i = 0; i < out.length; i++) out[i] = fn.config.read(offset + i, 1);
        return out;
      },
      write(offset, data) {
        live();
        const before = fn.config.command;
        const end = Math.min(fn.cfgSize, offset + data.length);
        for (let at = offset; at < end; at++) fn.config.write(at, 1, data[at - offset]!);
        // Interrupt Disable cleared with the line still asserted: the interrupt fires again.
        const unmasked = (before & PCI_COMMAND_INTX_DISABLE) !== 0 && (fn.config.command & PCI_COMMAND_INTX_DISABLE) === 0;
        if (unmasked && offset <= PCI_COMMAND + 1 && end > PCI_COMMAND && machine.intxLineAsserted(fn)) machine.uio.interrupt(fn);
        return Math.max(0, end - offset);
      },
      close() {
        open = false;
      },
    };
  }

  mapResource(name: string, index: number, offset: bigint, size: number, writeCombine: boolean): RegionMapping {
    const fn = this.fn(name, `resource${index}${writeCombine ? "_wc" : ""}`);
    const bar = fn.model.bars[index];
    if (!bar || bar.kind === "io" || offset + BigInt(size) > ((bar.size + BigInt(PAGE) - 1n) / BigInt(PAGE)) * BigInt(PAGE)) {
      throw new VfioSystemError("mmap", errnoValue("EINVAL"), "syscall", `/sys/bus/pci/devices/${name}/resource${index}`);
    }
    return new ResourceMapping(fn, index, offset, size, bar.size);
  }

  openUio(n: number): UioEventFile {
    const registration = this.machine.uio.byNumber(n);
    if (!registration) throw new VfioSystemError("open", errnoValue("ENOENT"), "syscall", `/dev/uio${n}`);
    let listener: (() => void) | undefined;
    let seen = registration.events;
    let closed = false;
    const stop = (): void => {
      if (listener) registration.listeners.delete(listener);
      listener = undefined;
    };
    return {
      listen(callback) {
        if (closed) throw new VfioSystemError("uio read", errnoValue("EBADF"), "syscall", `/dev/uio${n}`);
        stop();
        // Readers are woken on the event loop, as poll wakes them: never inside the device's write.
        listener = () => setImmediate(() => {
          if (closed || registration.events === seen) return;
          seen = registration.events;
          callback(seen);
        });
        registration.listeners.add(listener);
        if (registration.events !== seen) listener();
      },
      stop,
      close() {
        stop();
        closed = true;
      },
    };
  }

  allocatePinned(size: number): PinnedMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`allocatePinned: size ${size} is not a positive byte count`);
    const pages = Math.ceil(size / PAGE);
    const frames = this.machine.physicalMemory.allocate(pages);
    const vaddr = this.nextVaddr;
    this.nextVaddr += BigInt((pages + 1) * PAGE);
    for (let i = 0; i < pages; i++) this.pages.set(vaddr / BigInt(PAGE) + BigInt(i), frames.frame + i);
    let freed = false;
    return {
      vaddr,
      size: pages * PAGE,
      bytes: frames.bytes,
      fd: undefined,
      hugepages: false,
      free: () => {
        if (freed) return;
        freed = true;
        for (let i = 0; i < pages; i++) this.pages.delete(vaddr / BigInt(PAGE) + BigInt(i));
        frames.release();
      },
    };
  }

  readPagemap(vaddr: bigint, count: number): BigUint64Array {
    const out = new BigUint64Array(count);
    const first = vaddr / BigInt(PAGE);
    for (let i = 0; i < count; i++) {
      const frame = this.pages.get(first + BigInt(i));
      if (frame === undefined) continue;
      out[i] = PRESENT | (this.options.capSysAdmin === false ? 0n : BigInt(frame));
    }
    return out;
  }

  createNotifier(): EventNotifier {
    return new InProcessNotifier();
  }
}

/** A resourceN mapping: each access reaches the model, as a load or store to MMIO does. */
class ResourceMapping extends ModelMapping {
  constructor(private readonly fn: PciFunction, index: number, offset: bigint, size: number, private readonly barSize: bigint) {
    super(index, offset, size);
  }

  protected memoryEnabled(): boolean {
    return (this.fn.config.command & PCI_COMMAND_MEMORY) !== 0;
  }

  protected reach(at: bigint, size: 1 | 2 | 4 | 8, value?: bigint): bigint {
    // Past the BAR's end but inside its last page: the bus answers all ones and drops writes.
    if (at + BigInt(size) > this.barSize) return value === undefined ? (1n << BigInt(8 * size)) - 1n : 0n;
    if (value === undefined) return readBar(this.fn.config, this.fn.model, this.index, at, size);
    writeBar(this.fn.config, this.fn.model, this.index, at, size, value);
    return 0n;
  }
}
