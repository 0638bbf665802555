/**
 * A machine's PCI topology as data, and the builder that turns it into functions: bus numbers,
 * upstream bridges, multi-function slots, BAR addresses, config spaces, and the order in which
 * Linux adds the devices (which decides IOMMU group numbers).
 */
import type { DeviceModel } from "../../api/hosting.js";
import { parseBdf } from "../../api/pci-address.js";
import {
  PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_RC_END, PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from "../../api/pci-regs.js";
import { physicalConfigSpace } from "./config-space.js";
import { type FunctionKind, PciFunction, type PciResource } from "./function.js";

/** One function of a machine description. */
export interface FunctionSpec {
  /** "00:03.0" (domain 0000) or "0000:00:03.0". */
  readonly address: string;
  readonly kind: FunctionKind;
  /** The device model behind the function (a fresh one per machine: pass a factory). */
  readonly model: () => DeviceModel;
  /** A PCI Express function (endpoints and bridges); ports are always PCIe. */
  readonly express?: boolean;
  /** Has an ACS capability, enabled (ports; multi-function endpoints). */
  readonly acs?: boolean;
  /** For bridges and ports: the bus number behind it. */
  readonly secondaryBus?: number;
  /** Quirk: extra requester IDs (devfns on the same bus) the function uses for DMA. */
  readonly dmaAliasDevfns?: readonly number[];
  /** Quirk: a PCIe-to-PCI bridge without a PCIe capability (PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS). */
  readonly pcieBridgeAlias?: boolean;
  /**
   * The reset method Linux finds (sysfs reset_method), where it is known from the real machine;
   * otherwise it is derived: a secondary bus reset when the function is alone behind a bridge.
   */
  readonly resetMethod?: "bus" | "flr" | "none";
  /** The legacy IRQ Linux routes the pin to (sysfs irq), where known. */
  readonly irq?: number;
  /** driver_override set before drivers probe at boot (as the test guest's /init leaves it). */
  readonly driverOverride?: string;
}

/** IORESOURCE_* flags as /sys/.../resource prints them (include/linux/ioport.h). */
const IORESOURCE_IO = 0x100;
const IORESOURCE_MEM = 0x200;
const IORESOURCE_PREFETCH = 0x2000;
const IORESOURCE_MEM_64 = 0x100000;
const IORESOURCE_SIZEALIGN = 0x40000;

function pcieTypeOf(spec: FunctionSpec, onRootBus: boolean): number | undefined {
  switch (spec.kind) {
    case "pcie-root-port": return PCI_EXP_TYPE_ROOT_PORT;
    case "pcie-downstream-port": return PCI_EXP_TYPE_DOWNSTREAM;
    case "pcie-upstream-port": return PCI_EXP_TYPE_UPSTREAM;
    case "pci-bridge": return spec.express ? PCI_EXP_TYPE_PCI_BRIDGE : undefined;
    case "host-bridge": return undefined;
    case "endpoint":
      // QEMU makes a PCIe endpoint on the root complex's bus an integrated endpoint (pcie_endpoint_cap_init).
      return spec.express ? (onRootBus ? PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT) : undefined;
  }
}

/**
 * Builds the functions of a topology, in the order Linux adds them to the device model
 * (pci_bus_add_devices: every device of a bus in devfn order, then each child bus in turn),
 * which is the order bus_iommu_probe() meets them and so the order IOMMU groups are numbered.
 */
export function buildTopology(specs: readonly FunctionSpec[]): PciFunction[] {
  const parsed = specs.map((spec) => {
    const bdf = parseBdf(spec.address);
    if (!bdf) throw new Error(`topology: bad PCI address ${spec.address}`);
    return { spec, bdf };
  });
  const seen = new Set<string>();
  for (const { spec, bdf } of parsed) {
    const key = `${bdf.domain}:${bdf.bus}:${bdf.device}.${bdf.fn}`;
    if (seen.has(key)) throw new Error(`topology: ${spec.address} appears twice`);
    seen.add(key);
  }
  const bridgeOfBus = new Map<number, (typeof parsed)[number]>();
  for (const entry of parsed) {
    if (entry.spec.secondaryBus !== undefined) bridgeOfBus.set(entry.spec.secondaryBus, entry);
  }
  const subordinate = (bus: number): number => {
    let max = bus;
    for (const e of parsed) if (e.bdf.bus === bus && e.spec.secondaryBus !== undefined) max = Math.max(max, subordinate(e.spec.secondaryBus));
    return max;
  };
  // BAR addresses: a bump allocator in the 32-bit MMIO window (below the IOAPIC/MSI range), each
  // BAR aligned to its size as PCI requires; I/O BARs from 0xc000. Firmware's exact choice is
  // not observable through VFIO (vfio-pci shows userspace the BAR flags and sizing only).
  let mmio = 0xc000_0000n;
  let mmio64 = 0x80_0000_0000n;
  let io = 0xc000n;
  const alignUp = (v: bigint, a: bigint) => (v + a - 1n) & ~(a - 1n);

  const built = new Map<string, PciFunction>();
  for (const { spec, bdf } of parsed) {
    const model = spec.model();
    const onRootBus = !bridgeOfBus.has(bdf.bus);
    const pcieType = pcieTypeOf(spec, onRootBus);
    const multifunction = parsed.some((o) => o.bdf !== bdf && o.bdf.bus === bdf.bus && o.bdf.device === bdf.device);
    const bridge = spec.secondaryBus !== undefined;
    const bars = bridge ? model.bars.slice(0, 2) : model.bars.slice(0, 6);
    const addresses: bigint[] = [];
    const resources: PciResource[] = [];
    for (let i = 0; i < 6; i++) {
      const bar = bars[i];
      if (!bar) {
        addresses.push(0n);
        resources.push({ start: 0n, size: 0n, flags: 0 });
        continue;
      }
      let start: bigint;
      let flags = IORESOURCE_SIZEALIGN;
      if (bar.kind === "io") {
        start = alignUp(io, bar.size);
        io = start + bar.size;
        flags |= IORESOURCE_IO;
      } else if (bar.kind === "memory64" && bar.prefetchable) {
        start = alignUp(mmio64, bar.size);
        mmio64 = start + bar.size;
        flags |= IORESOURCE_MEM | IORESOURCE_MEM_64 | IORESOURCE_PREFETCH;
      } else {
        start = alignUp(mmio, bar.size);
        mmio = start + bar.size;
        flags |= IORESOURCE_MEM | (bar.kind === "memory64" ? IORESOURCE_MEM_64 : 0) | (bar.prefetchable ? IORESOURCE_PREFETCH : 0);
      }
      addresses.push(start);
      resources.push({ start, size: bar.size, flags });
      if (bar.kind === "memory64") {
        addresses.push(0n);
        resources.push({ start: 0n, size: 0n, flags: 0 });
        i++;
      }
    }
    const upstream = bridgeOfBus.get(bdf.bus);
    const config = physicalConfigSpace(model, {
      bridge,
      pcieType,
      acs: spec.acs ?? false,
      multifunction,
      ...(bridge ? { busNumbers: [bdf.bus, spec.secondaryBus!, subordinate(spec.secondaryBus!)] as const } : {}),
      barAddresses: addresses,
      // Legacy interrupt routing on q35 spreads pins over GSIs 16-23; any stable value will do.
      interruptLine: 16 + ((bdf.device + model.intxPin - 1 + (upstream ? 4 : 0)) & 7),
    });
    const fn = new PciFunction(bdf, spec.kind, model, config, pcieType, multifunction, resources, {
      ...(spec.secondaryBus !== undefined ? { secondaryBus: spec.secondaryBus } : {}),
      ...(spec.dmaAliasDevfns ? { dmaAliasDevfns: spec.dmaAliasDevfns } : {}),
      ...(spec.pcieBridgeAlias ? { pcieBridgeAlias: true } : {}),
      ...(spec.resetMethod ? { resetMethod: spec.resetMethod } : {}),
      ...(spec.irq !== undefined ? { irq: spec.irq } : {}),
    });
    fn.driverOverride = spec.driverOverride;
    built.set(spec.address, fn);
  }
  const bySecondary = new Map<number, PciFunction>();
  for (const fn of built.values()) if (fn.secondaryBus !== undefined) bySecondary.set(fn.secondaryBus, fn);
  for (const fn of built.values()) fn.upstream = bySecondary.get(fn.bus);

  // pci_bus_add_devices order.
  const all = [...built.values()];
  const order: PciFunction[] = [];
  const addBus = (bus: number) => {
    const onBus = all.filter((f) => f.bus === bus).sort((a, b) => a.devfn - b.devfn);
    order.push(...onBus);
    for (const f of onBus) if (f.secondaryBus !== undefined) addBus(f.secondaryBus);
  };
  const roots = [...new Set(all.filter((f) => !f.upstream).map((f) => f.bus))].sort((a, b) => a - b);
  for (const bus of roots) addBus(bus);
  if (order.length !== all.length) throw new Error("topology: a bus is not reachable from a root bus");
  return order;
}
