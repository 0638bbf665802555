/**
 * The emulated machine: a PCI topology with an IOMMU, host drivers bound by name, IOMMU groups
 * formed by Linux's rules, VFIO's kernel side, and device models whose DMA goes only through
 * the IOMMU. It is the state behind EmulatedSystem (the VFIO API a process sees) and behind the
 * rendered sysfs tree (sysfs/emulated-sysfs.ts renders it from here: the machine does not know it).
 */
import { DmaFaultError, type DeviceHost, type DmaFaultReason } from "../api/hosting.js";
import type { IovaRange } from "../api/container.js";
import { PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER } from "../api/constants.js";
import type { IommuDomain } from "./iommu/domain.js";
import { formIommuGroups } from "./iommu/group-formation.js";
import { IommuGroup } from "./iommu/iommu-group.js";
import type { PciFunction } from "./pci/function.js";
import { driverMatches, type HostDriver, knownHostDrivers } from "./pci/host-drivers.js";
import { buildTopology, type FunctionSpec } from "./pci/topology.js";
import { parseBdf, formatBdf } from "../api/pci-address.js";
import { VfioGroupCore } from "./vfio/group-core.js";
import { VfioPciDevice } from "./vfio/pci-device.js";
import { PhysicalMemory } from "./uio/physical-memory.js";
import { UioPciGeneric } from "./uio/uio-driver.js";

/** The IOMMU hardware, as the VT-d unit presents it to Linux. */
export interface IommuSpec {
  /** Guest address width in bits: the aperture ends at 2^width - 1 (QEMU intel-iommu aw-bits, default 39). */
  readonly addressWidth: number;
  /** Page sizes the domains support (4 KiB, plus 2 MiB and 1 GiB with second-level superpages). */
  readonly pgsizeBitmap: bigint;
  /** Reserved IOVA ranges every device has (the interrupt range 0xfee00000-0xfeefffff on x86). */
  readonly reserved: readonly (IovaRange & { readonly type: string })[];
  /** vfio_iommu_type1's dma_entry_limit module parameter. */
  readonly dmaEntryLimit: number;
  /** IOTLB entries per domain. */
  readonly iotlbEntries: number;
}

export interface MachineSpec {
  /** What `vfio ls --emulated` calls it. */
  readonly description: string;
  /** uname -r of the kernel it answers as. */
  readonly kernelRelease: string;
  readonly functions: readonly FunctionSpec[];
  /** Host drivers loaded, in registration order (vfio-pci is always loaded). */
  readonly drivers: readonly string[];
  readonly iommu: IommuSpec;
  /**
   * The default DMA domain of groups whose devices are on host drivers: "DMA-FQ" translates
   * (only what the kernel's DMA API maps is reachable), "identity" is the kernel booted with
   * iommu=pt (the IOMMU passes such a device's DMA straight to physical memory). Default "DMA-FQ".
   */
  readonly defaultDomain?: "DMA-FQ" | "identity";
}

/** A DMA the IOMMU blocked, as the DMAR fault log reports it. */
export interface DmaFault {
  /** "0000:00:03.0". */
  readonly device: string;
  readonly iova: bigint;
  readonly access: "read" | "write";
  readonly reason: DmaFaultReason;
  /** The VT-d fault reason code (Intel VT-d spec §7.1.3; Linux dmar.c dma_remap_fault_reasons). */
  readonly vtdReason: number;
  readonly vtdReasonText: string;
}

const VTD_REASONS: Readonly<Record<number, string>> = {
  2: "Present bit in context entry is clear",
  4: "Access beyond MGAW",
  5: "PTE Write access is not set",
  6: "PTE Read access is not set",
};

export class Machine {
  readonly description: string;
  readonly kernelRelease: string;
  /** Every function, in the order Linux adds them. */
  readonly functions: readonly PciFunction[];
  readonly groups: readonly IommuGroup[];
  readonly drivers: readonly HostDriver[];
  readonly iommu: IommuSpec;
  /** The IOMMU's fault log, oldest first. */
  readonly faults: DmaFault[] = [];
  /** Listeners told about each new fault (the DMAR fault interrupt). */
  private readonly faultListeners: ((fault: DmaFault) => void)[] = [];
  readonly vfioGroups = new Map<number, VfioGroupCore>();
  readonly vfioDevices = new Map<PciFunction, VfioPciDevice>();
  private readonly intxAsserted = new Set<PciFunction>();
  /** The default domain type of every group (MachineSpec.defaultDomain). */
  readonly defaultDomain: "DMA-FQ" | "identity";
  /** uio_pci_generic's registered devices (/dev/uioN). */
  readonly uio = new UioPciGeneric(() => this.generation++);
  /** Physical memory, as a device whose DMA is not translated reaches it. */
  readonly physicalMemory = new PhysicalMemory();
  /** The reset method sysfs shows ("bus", "flr") or "" when Linux found none. */
  resetMethodOf(fn: PciFunction): string {
    if (fn.resetMethod) return fn.resetMethod === "none" ? "" : fn.resetMethod;
    return this.canReset(fn) ? "bus" : "";
  }

  /** Bumped whenever something sysfs shows changes (a binding, a driver_override), so renders can be cached. */
  generation = 0;
  /** Unbinds waiting for the device's last close (the kernel blocks the sysfs write). */
  private readonly pendingUnbinds = new Map<PciFunction, (() => void)[]>();

  constructor(spec: MachineSpec) {
    this.description = spec.description;
    this.kernelRelease = spec.kernelRelease;
    this.iommu = spec.iommu;
    this.defaultDomain = spec.defaultDomain ?? "DMA-FQ";
    this.functions = buildTopology(spec.functions);
    this.groups = formIommuGroups(this.functions).map((members, id) => new IommuGroup(id, members));
    const names = ["vfio-pci", ...spec.drivers.filter((d) => d !== "vfio-pci")];
    this.drivers = names.map((name) => {
      const driver = knownHostDrivers[name];
      if (!driver) throw new Error(`machine: unknown host driver '${name}'`);
      return driver;
    });
    for (const fn of this.functions) {
      fn.model.attach(this.hostFor(fn));
      // An MSI-X message is a memory write by the function: nothing without Bus Master Enable.
      fn.config.msix?.connect((vector) => {
        if (fn.config.busMasterEnabled) this.vfioDevices.get(fn)?.deliverMsix(vector);
      });
    }
    // Boot: every device is probed against the loaded drivers (device_initial_probe).
    for (const fn of this.functions) this.attach(fn);
  }

  /** The function at `address` ("0000:00:03.0" or "00:03.0"). */
  fn(address: string): PciFunction | undefined {
    const bdf = parseBdf(address);
    if (!bdf) return undefined;
    const name = formatBdf(bdf);
    return this.functions.find((f) => f.address === name);
  }

  groupOf(fn: PciFunction): IommuGroup {
    return this.groups[fn.groupId]!;
  }


  /** Calls `listener` for every new IOMMU fault. */
  onFault(listener: (fault: DmaFault) => void): void {
    this.faultListeners.push(listener);
  }

  // ---- driver binding (drivers/base/dd.c) ----

  /**
   * device_attach() / drivers_probe: the first loaded driver that matches and probes binds.
   * Returns the errno name of a failure that stops the attach (the DMA ownership conflict).
   */
  attach(fn: PciFunction): "EBUSY" | undefined {
    if (fn.driver) return undefined;
    for (const driver of this.drivers) {
      if (!driverMatches(driver, fn)) continue;
      const result = this.probe(fn, driver);
      if (result === "EBUSY") return result;
      if (result === undefined) return undefined;
    }
    return undefined;
  }

  /**
   * really_probe(): DMA configuration first (a non-driver_managed_dma driver takes the group's
   * default domain, EBUSY when userspace owns the group), then the driver's probe. Returns
   * undefined when bound, the errno name otherwise (probe errors as positive, i.e. "probe:").
   */
  probe(fn: PciFunction, driver: HostDriver): "EBUSY" | "EPROBE" | undefined {
    const group = this.groupOf(fn);
    if (!driver.driverManagedDma) {
      if (group.useDefaultDomain()) return "EBUSY";
    }
    if (driver.probe(fn) !== 0) {
      if (!driver.driverManagedDma) group.unuseDefaultDomain();
      return "EPROBE";
    }
    fn.driver = driver.name;
    this.generation++;
    if (driver.name === "vfio-pci") this.registerVfioDevice(fn);
    if (driver.name === "uio_pci_generic") this.uio.register(fn);
    return undefined;
  }

  /** The positive errno a driver's probe fails with (for the bind attribute's answer). */
  probeErrno(fn: PciFunction, driver: HostDriver): number {
    return driver.probe(fn);
  }

  /**
   * device_release_driver(): unbinds. For a VFIO device that is open, the kernel waits for
   * userspace to close it (signalling the REQ interrupt first): the promise resolves then.
   */
  async detach(fn: PciFunction): Promise<void> {
    const name = fn.driver;
    if (!name) return;
    const driver = this.drivers.find((d) => d.name === name)!;
    if (name === "vfio-pci") {
      const vdev = this.vfioDevices.get(fn);
      if (vdev && vdev.openCount > 0) {
        vdev.requestRelease();
        await new Promise<void>((resolve) => {
          const list = this.pendingUnbinds.get(fn) ?? [];
          list.push(resolve);
          this.pendingUnbinds.set(fn, list);
        });
      }
      this.unregisterVfioDevice(fn);
    }
    if (name === "uio_pci_generic") this.uio.unregister(fn);
    fn.driver = undefined;
    this.generation++;
    if (!driver.driverManagedDma) this.groupOf(fn).unuseDefaultDomain();
  }

  /** A VFIO device's last file closed: unbinds waiting for it go on. */
  private deviceClosed(fn: PciFunction): void {
    const waiting = this.pendingUnbinds.get(fn);
    if (!waiting) return;
    this.pendingUnbinds.delete(fn);
    for (const resolve of waiting) resolve();
  }

  private registerVfioDevice(fn: PciFunction): void {
    const vdev = new VfioPciDevice(fn, {
      canReset: (f) => this.canReset(f),
      reset: (f) => this.resetFunction(f),
      intxAsserted: (f) => this.intxAsserted.has(f),
      enableChanged: () => void this.generation++,
      lastClosed: (f) => this.deviceClosed(f),
    });
    this.vfioDevices.set(fn, vdev);
    const group = this.groupOf(fn);
    let core = this.vfioGroups.get(group.id);
    if (!core) {
      core = new VfioGroupCore(group);
      this.vfioGroups.set(group.id, core);
    }
    core.devices.add(vdev);
  }

  private unregisterVfioDevice(fn: PciFunction): void {
    const vdev = this.vfioDevices.get(fn);
    if (!vdev) return;
    this.vfioDevices.delete(fn);
    const core = this.vfioGroups.get(fn.groupId);
    if (!core) return;
    core.devices.delete(vdev);
    if (core.devices.size === 0) this.vfioGroups.delete(fn.groupId);
  }

  // ---- resets (drivers/pci/pci.c) ----

  /**
   * pci_probe_reset_function(): the emulated functions have no FLR, PM or ACPI reset, so the
   * only method is a secondary bus reset by the parent bridge (pci_parent_bus_reset), which
   * needs a non-root bus with this function alone on it.
   */
  canReset(fn: PciFunction): boolean {
    if (fn.resetMethod) return fn.resetMethod !== "none";
    if (!fn.upstream || fn.isBridge) return false;
    return this.functions.every((other) => other === fn || other.bus !== fn.bus);
  }

  resetFunction(fn: PciFunction): void {
    this.intxAsserted.delete(fn);
    fn.config.setInterruptStatus(false);
    fn.model.reset();
  }

  // ---- DMA through the IOMMU ----

  /** The domain that translates `fn`'s DMA now. */
  domainOf(fn: PciFunction): IommuDomain | "default" | "blocking" {
    return this.groupOf(fn).domain;
  }

  /** Reads device-visible memory for `fn` at bus address `iova`; throws DmaFaultError when blocked. */
  dmaRead(fn: PciFunction, iova: bigint, length: number): Uint8Array {
    return this.dmaReadInto(fn, iova, new Uint8Array(length));
  }

  /** Reads device-visible memory into `into` (a model's own buffer: no allocation per transfer). */
  dmaReadInto(fn: PciFunction, iova: bigint, into: Uint8Array): Uint8Array {
    this.dmaAccess(fn, iova, into.length, "read", (page, offset, done, n) => into.set(page.subarray(offset, offset + n), done));
    return into;
  }

  /** Writes device-visible memory for `fn`; throws DmaFaultError when blocked (nothing of the blocked page is written). */
  dmaWrite(fn: PciFunction, iova: bigint, data: Uint8Array): void {
    this.dmaAccess(fn, iova, data.length, "write", (page, offset, done, n) => page.set(data.subarray(done, done + n), offset));
  }

  private dmaAccess(
    fn: PciFunction,
    iova: bigint,
    length: number,
    access: "read" | "write",
    move: (page: Uint8Array, offset: number, done: number, n: number) => void,
  ): void {
    // Without Bus Master Enable the function cannot issue memory requests at all (PCI 3.0 §6.2.2).
    if (!(fn.config.command & PCI_COMMAND_MASTER)) throw new DmaFaultError(iova, access, "bus-master-disabled");
    const domain = this.domainOf(fn);
    if (domain === "default" && this.defaultDomain === "identity") return this.untranslated(iova, length, access, move);
    const limit = 1n << BigInt(this.iommu.addressWidth);
    let done = 0;
    while (done < length) {
      const at = iova + BigInt(done);
      if (at >= limit) this.fault(fn, at, access, "out-of-range", 4);
      if (domain === "default" || domain === "blocking") {
        this.fault(fn, at, access, "not-mapped", domain === "blocking" ? 2 : access === "write" ? 5 : 6);
      }
      const t = domain.translate(Number(at), access);
      if (!t.ok) this.fault(fn, at, access, t.reason, access === "write" ? 5 : 6);
      const n = Math.min(length - done, t.available);
      move(t.page, t.offset, done, n);
      done += n;
    }
  }

  /** An identity domain (iommu=pt): the bus address is the physical address, nothing checked. */
  private untranslated(address: bigint, length: number, access: "read" | "write", move: (page: Uint8Array, offset: number, done: number, n: number) => void): void {
    for (let done = 0; done < length; ) {
      const { page, offset } = this.physicalMemory.page(address + BigInt(done), access === "write")!;
      const n = Math.min(length - done, page.length - offset);
      move(page, offset, done, n);
      done += n;
    }
  }

  /** The function's INTx line is asserted now. */
  intxLineAsserted(fn: PciFunction): boolean {
    return this.intxAsserted.has(fn);
  }

  private fault(fn: PciFunction, iova: bigint, access: "read" | "write", reason: DmaFaultReason, vtdReason: number): never {
    const fault: DmaFault = {
      device: fn.address,
      iova: iova & ~0xfffn,
      access,
      reason,
      vtdReason,
      vtdReasonText: VTD_REASONS[vtdReason] ?? "Unknown",
    };
    this.faults.push(fault);
    for (const l of this.faultListeners) l(fault);
    throw new DmaFaultError(iova, access, reason);
  }

  // ---- interrupts ----

  /**
   * The model raised interrupt `vector`: an MSI-X message when MSI-X is enabled (sent, or held
   * pending while masked: devices/pci/msix-capability.ts), else an MSI when MSI is enabled,
   * else INTx — the order QEMU's devices follow (msix_enabled, msi_enabled, pci_irq_assert).
   */
  raiseIrq(fn: PciFunction, vector: number): void {
    if (fn.config.msix?.enabled) {
      fn.config.msix.raise(vector);
      return;
    }
    if (fn.config.msiState()?.enabled) {
      // An MSI is a memory write by the function: nothing without Bus Master Enable.
      if (!(fn.config.command & PCI_COMMAND_MASTER)) return;
      this.vfioDevices.get(fn)?.deliverMsi(vector);
      return;
    }
    this.intxAsserted.add(fn);
    fn.config.setInterruptStatus(true);
    if (!(fn.config.command & PCI_COMMAND_INTX_DISABLE)) {
      this.vfioDevices.get(fn)?.deliverIntx();
      this.uio.interrupt(fn);
    }
  }

  lowerIrq(fn: PciFunction, _vector: number): void {
    this.intxAsserted.delete(fn);
    fn.config.setInterruptStatus(false);
  }

  /** The DeviceHost a model of `fn` is given: DMA through the IOMMU, interrupt lines. */
  private hostFor(fn: PciFunction): DeviceHost {
    return {
      dmaRead: async (address, length) => this.dmaRead(fn, address, length),
      dmaWrite: async (address, data) => this.dmaWrite(fn, address, data),
      raiseIrq: (vector) => this.raiseIrq(fn, vector),
      lowerIrq: (vector) => this.lowerIrq(fn, vector),
    };
  }
}
