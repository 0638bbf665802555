/**
 * The PCI register names devices/ used before the one table moved to api/pci-regs.ts (which
 * test/abi pins to <linux/pci_regs.h>): re-exported so code written against this module keeps
 * building. New code imports api/pci-regs.ts.
 */
import { PCI_CFG_SPACE_EXP_SIZE, PCI_CFG_SPACE_SIZE, PCI_STD_HEADER_SIZEOF } from "../../api/pci-regs.js";

export * from "../../api/pci-regs.js";
/** @deprecated PCI_STD_HEADER_SIZEOF */
export const PCI_CONFIG_HEADER_SIZE = PCI_STD_HEADER_SIZEOF;
/** @deprecated PCI_CFG_SPACE_SIZE */
export const PCI_CONFIG_SPACE_SIZE = PCI_CFG_SPACE_SIZE;
/** @deprecated PCI_CFG_SPACE_EXP_SIZE */
export const PCIE_CONFIG_SPACE_SIZE = PCI_CFG_SPACE_EXP_SIZE;
