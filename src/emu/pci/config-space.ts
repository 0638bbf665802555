/**
 * The physical config space of an emulated PCI function: what the host kernel reads with
 * pci_read_config_*, before vfio-pci virtualises it for userspace (vfio/pci-config.ts). It is
 * devices/pci's one config space, given the function's place in the topology: header type 1
 * for bridges, a PCI Express capability with the function's Device/Port Type, ACS on root
 * ports, the BAR addresses and bus numbers firmware assigned, and the Interrupt Line.
 */
import type { DeviceModel } from "../../api/hosting.js";
import { PciConfigSpace } from "../../devices/pci/config-space.js";

/** How a function sits in the topology, which decides its header and capabilities. */
export interface ConfigRole {
  /** Header type 1 for bridges (PCI-PCI bridges and PCIe ports), else 0. */
  readonly bridge: boolean;
  /** PCI Express Device/Port Type, or undefined for a conventional PCI function. */
  readonly pcieType: number | undefined;
  /** An ACS capability with SV, RR, CR and UF enabled (as Linux's pci_enable_acs leaves a root port). */
  readonly acs: boolean;
  readonly multifunction: boolean;
  /** Bus numbers of a bridge: primary, secondary, subordinate. */
  readonly busNumbers?: readonly [number, number, number];
  /** Addresses the firmware assigned to BAR0..5 (0n where unimplemented). */
  readonly barAddresses: readonly bigint[];
  readonly interruptLine: number;
}

/** The physical config space of `model` in `role`. */
export function physicalConfigSpace(model: DeviceModel, role: ConfigRole): PciConfigSpace {
  return new PciConfigSpace(model, {
    bridge: role.bridge,
    multifunction: role.multifunction,
    ...(role.pcieType !== undefined ? { pcieType: role.pcieType } : {}),
    acs: role.acs,
    ...(role.busNumbers ? { busNumbers: role.busNumbers } : {}),
    barAddresses: role.barAddresses,
    interruptLine: role.interruptLine,
  });
}
