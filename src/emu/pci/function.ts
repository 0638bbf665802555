/**
 * One PCI function of the emulated machine: its place in the topology, its physical config
 * space, the device model behind its BARs, and its host driver binding (driver and
 * driver_override, as in struct pci_dev / struct device).
 */
import type { DeviceModel } from "../../api/hosting.js";
import { type Bdf, devfn, formatBdf } from "../../api/pci-address.js";
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from "../../api/pci-regs.js";
import type { PciConfigSpace } from "../../devices/pci/config-space.js";

/** What a function is, which decides its header, its PCIe type and how Linux groups it. */
export type FunctionKind =
  | "endpoint"
  | "host-bridge"
  | "pci-bridge"
  | "pcie-root-port"
  | "pcie-downstream-port"
  | "pcie-upstream-port";

/** A resource as /sys/bus/pci/devices/X/resource lists it (struct resource). */
export interface PciResource {
  readonly start: bigint;
  readonly size: bigint;
  /** IORESOURCE_* flags as the kernel prints them. */
  readonly flags: number;
}

export class PciFunction {
  /** "0000:00:03.0". */
  readonly address: string;
  readonly devfn: number;
  /** The bridge whose secondary bus this function sits on; undefined on the root bus. */
  upstream: PciFunction | undefined;
  /** For bridges: the bus behind it. */
  readonly secondaryBus: number | undefined;
  /** Host driver bound now (struct device.driver), by name. */
  driver: string | undefined;
  /** /sys/bus/pci/devices/X/driver_override; undefined is "(null)". */
  driverOverride: string | undefined;
  /** Set by the machine once groups are formed. */
  groupId = -1;

  constructor(
    readonly bdf: Bdf,
    readonly kind: FunctionKind,
    readonly model: DeviceModel,
    readonly config: PciConfigSpace,
    /** PCIe Device/Port Type, undefined for conventional PCI. */
    readonly pcieType: number | undefined,
    readonly multifunction: boolean,
    readonly resources: readonly PciResource[],
    options: {
      secondaryBus?: number;
      /** Extra requester IDs this function uses on its own bus (pdev->dma_alias_mask, set by quirks). */
      dmaAliasDevfns?: readonly number[];
      /** PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS: a PCIe-to-PCI bridge without a PCIe capability. */
      pcieBridgeAlias?: boolean;
      resetMethod?: "bus" | "flr" | "none";
      irq?: number;
    } = {},
  ) {
    this.address = formatBdf(bdf);
    this.devfn = devfn(bdf);
    this.secondaryBus = options.secondaryBus;
    this.dmaAliasDevfns = options.dmaAliasDevfns ?? [];
    this.pcieBridgeAlias = options.pcieBridgeAlias ?? false;
    this.resetMethod = options.resetMethod;
    this.irq = options.irq;
  }

  /** The reset method known from the real machine, if given (else the machine derives it). */
  readonly resetMethod: "bus" | "flr" | "none" | undefined;
  /** The legacy IRQ number sysfs shows, if given. */
  readonly irq: number | undefined;

  readonly dmaAliasDevfns: readonly number[];
  readonly pcieBridgeAlias: boolean;

  get bus(): number {
    return this.bdf.bus;
  }

  get isBridge(): boolean {
    return this.secondaryBus !== undefined;
  }

  get isPcie(): boolean {
    return this.pcieType !== undefined;
  }

  /** True for the PCIe port types the pcieport driver takes (portdrv_pci.c pcie_portdrv_probe). */
  get isPciePort(): boolean {
    return this.pcieType === PCI_EXP_TYPE_ROOT_PORT || this.pcieType === PCI_EXP_TYPE_UPSTREAM || this.pcieType === PCI_EXP_TYPE_DOWNSTREAM;
  }

  /** Header type without the multi-function bit: 0 normal, 1 bridge. */
  get headerType(): number {
    return this.config.read(0x0e, 1) & 0x7f;
  }

  /** The 24-bit class code. */
  get classCode(): number {
    return this.model.identity.classCode;
  }

  /** The size of config space the kernel sees (pci_cfg_space_size: 4096 only for PCIe functions). */
  get cfgSize(): number {
    return this.config.size;
  }
}
