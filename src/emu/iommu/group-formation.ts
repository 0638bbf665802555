/**
 * IOMMU group formation for PCI, as Linux 6.1 does it: pci_device_group() in
 * drivers/iommu/iommu.c with pci_for_each_dma_alias() from drivers/pci/search.c and
 * pci_acs_enabled()/pci_acs_path_enabled() from drivers/pci/pci.c.
 *
 * Devices are met in the order the kernel adds them; a device joins the group of the first
 * already-grouped device it cannot be isolated from:
 *  1. its DMA aliases: a conventional PCI bridge (or a PCIe-to-PCI bridge) takes ownership of
 *     the requester ID of everything behind it, so those devices alias to the bridge;
 *  2. upstream bridges up to the first whose path to the root has ACS enabled (peer-to-peer
 *     between siblings is possible otherwise);
 *  3. devices on the same bus that alias it or that it aliases (quirked dma_alias_mask);
 *  4. the other functions of a multi-function slot, unless ACS isolates them.
 * Vendor ACS quirks (pci_dev_specific_acs_enabled) are not modelled: none of the emulated
 * devices is in those tables.
 */
import {
  PCI_ACS_CAP, PCI_ACS_CTRL, PCI_ACS_EC, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_RC_END, PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from "../../api/pci-regs.js";
import { REQ_ACS_FLAGS } from "../../devices/pci/config-space.js";
import type { PciFunction } from "../pci/function.js";


/** pci_acs_flags_enabled(): every required flag that the capability can control is enabled. */
function acsFlagsEnabled(fn: PciFunction, flags: number): boolean {
  const pos = fn.config.acsCap;
  if (!pos) return false;
  const cap = fn.config.read(pos + PCI_ACS_CAP, 2);
  const ctrl = fn.config.read(pos + PCI_ACS_CTRL, 2);
  const required = flags & (cap | PCI_ACS_EC);
  return (ctrl & required) === required;
}

/** pci_acs_enabled() without vendor quirks. */
export function acsEnabled(fn: PciFunction, flags = REQ_ACS_FLAGS): boolean {
  // Conventional PCI and PCI-X devices never support ACS: a shared bus lets any device snoop DMA.
  if (fn.pcieType === undefined) return false;
  switch (fn.pcieType) {
    case PCI_EXP_TYPE_PCIE_BRIDGE:
    case PCI_EXP_TYPE_PCI_BRIDGE:
    case PCI_EXP_TYPE_RC_EC:
      return false;
    case PCI_EXP_TYPE_DOWNSTREAM:
    case PCI_EXP_TYPE_ROOT_PORT:
      return acsFlagsEnabled(fn, flags);
    case PCI_EXP_TYPE_ENDPOINT:
    case PCI_EXP_TYPE_UPSTREAM:
    case PCI_EXP_TYPE_LEG_END:
    case PCI_EXP_TYPE_RC_END:
      if (!fn.multifunction) break;
      return acsFlagsEnabled(fn, flags);
  }
  // PCIe 3.0 §6.12.1.3: no ACS applies to single-function devices other than downstream ports.
  return true;
}

/** pci_acs_path_enabled(start, NULL, flags). */
export function acsPathEnabled(start: PciFunction, flags = REQ_ACS_FLAGS): boolean {
  let fn: PciFunction | undefined = start;
  while (fn) {
    if (!acsEnabled(fn, flags)) return false;
    if (!fn.upstream) return true;
    fn = fn.upstream;
  }
  return true;
}

/**
 * pci_for_each_dma_alias(): calls `visit` with each function whose requester ID the IOMMU may
 * see for `fn`'s DMA, nearest first; stops when `visit` returns true.
 */
export function forEachDmaAlias(fn: PciFunction, visit: (owner: PciFunction, requesterId: number) => boolean): boolean {
  if (visit(fn, (fn.bus << 8) | fn.devfn)) return true;
  for (const alias of fn.dmaAliasDevfns) if (visit(fn, (fn.bus << 8) | alias)) return true;
  for (let bridge = fn.upstream; bridge; bridge = bridge.upstream) {
    if (bridge.pcieType !== undefined) {
      switch (bridge.pcieType) {
        case PCI_EXP_TYPE_ROOT_PORT:
        case PCI_EXP_TYPE_UPSTREAM:
        case PCI_EXP_TYPE_DOWNSTREAM:
          continue;
        case PCI_EXP_TYPE_PCI_BRIDGE:
          // PCIe-to-PCI bridges alias with the subordinate bus number, devfn 0 (PCIe-to-PCI bridge spec §2.3).
          if (visit(bridge, (bridge.secondaryBus! << 8) | 0)) return true;
          continue;
        case PCI_EXP_TYPE_PCIE_BRIDGE:
          if (visit(bridge, (bridge.bus << 8) | bridge.devfn)) return true;
          continue;
      }
      continue;
    }
    const id = bridge.pcieBridgeAlias ? (bridge.secondaryBus! << 8) | 0 : (bridge.bus << 8) | bridge.devfn;
    if (visit(bridge, id)) return true;
  }
  return false;
}

/** pci_devs_are_dma_aliases(): one's dma_alias_mask names the other (same bus). */
function areDmaAliases(a: PciFunction, b: PciFunction): boolean {
  return a.bus === b.bus && (a.dmaAliasDevfns.includes(b.devfn) || b.dmaAliasDevfns.includes(a.devfn));
}

/**
 * Assigns every function an IOMMU group id, meeting them in `probeOrder` (the order the
 * kernel adds them). Returns the groups in id order, each with its members in that order.
 */
export function formIommuGroups(probeOrder: readonly PciFunction[]): PciFunction[][] {
  const groupOf = new Map<PciFunction, number>();
  const groups: PciFunction[][] = [];

  const aliasGroup = (fn: PciFunction, devfns: Set<number>): number | undefined => {
    if (devfns.has(fn.devfn)) return undefined;
    devfns.add(fn.devfn);
    const g = groupOf.get(fn);
    if (g !== undefined) return g;
    for (const other of probeOrder) {
      if (other === fn || other.bus !== fn.bus || !areDmaAliases(fn, other)) continue;
      const found = aliasGroup(other, devfns) ?? functionAliasGroup(other, devfns);
      if (found !== undefined) return found;
    }
    return undefined;
  };

  const functionAliasGroup = (fn: PciFunction, devfns: Set<number>): number | undefined => {
    if (!fn.multifunction || acsEnabled(fn)) return undefined;
    for (const other of probeOrder) {
      if (other === fn || other.bus !== fn.bus || other.bdf.device !== fn.bdf.device || acsEnabled(other)) continue;
      const found = aliasGroup(other, devfns);
      if (found !== undefined) return found;
    }
    return undefined;
  };

  const deviceGroup = (start: PciFunction): number | undefined => {
    // 1. DMA aliases: remember the last function visited; stop at one already grouped.
    let pdev = start;
    let found: number | undefined;
    forEachDmaAlias(start, (owner) => {
      pdev = owner;
      found = groupOf.get(owner);
      return found !== undefined;
    });
    if (found !== undefined) return found;
    // 2. Upstream to the point where ACS protects against peer-to-peer.
    for (let bridge = pdev.upstream; bridge; bridge = bridge.upstream) {
      if (acsPathEnabled(bridge)) break;
      pdev = bridge;
      const g = groupOf.get(bridge);
      if (g !== undefined) return g;
    }
    // 3 and 4. Aliases on the bus, then non-isolated functions of the same slot.
    const devfns = new Set<number>();
    return aliasGroup(pdev, devfns) ?? functionAliasGroup(pdev, devfns);
  };

  for (const fn of probeOrder) {
    let id = deviceGroup(fn);
    if (id === undefined) {
      id = groups.length;
      groups.push([]);
    }
    groupOf.set(fn, id);
    groups[id]!.push(fn);
    fn.groupId = id;
  }
  return groups;
}
