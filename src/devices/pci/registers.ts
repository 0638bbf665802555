/**
 * PCI configuration-space register offsets and bits that api/constants.ts does not carry,
 * named as in Linux's include/uapi/linux/pci_regs.h (PCI Local Bus Spec 3.0 §6.1, §6.2, §6.8.1).
 * Kept here, next to the one implementation that serves them, rather than growing api/.
 */

/** Size of the type 0 header: capabilities start at or after this (PCI 3.0 §6.1). */
export const PCI_CONFIG_HEADER_SIZE = 0x40;
/** Conventional PCI config space, and PCIe's extended one (PCIe Base Spec 3.0 §7.2). */
export const PCI_CONFIG_SPACE_SIZE = 0x100;
export const PCIE_CONFIG_SPACE_SIZE = 0x1000;

export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
/** Expansion ROM base address (type 0 header); not implemented by the models here: reads 0. */
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_MIN_GNT = 0x3e;
export const PCI_MAX_LAT = 0x3f;

/** Command register: SERR# enable (PCI 3.0 §6.2.2). */
export const PCI_COMMAND_SERR = 1 << 8;

/** Status register bits (PCI 3.0 §6.2.3). */
export const PCI_STATUS_INTERRUPT = 1 << 3;
export const PCI_STATUS_PARITY = 1 << 8;
export const PCI_STATUS_SIG_TARGET_ABORT = 1 << 11;
export const PCI_STATUS_REC_TARGET_ABORT = 1 << 12;
export const PCI_STATUS_REC_MASTER_ABORT = 1 << 13;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 1 << 14;
export const PCI_STATUS_DETECTED_PARITY = 1 << 15;

/** BAR low bits (PCI 3.0 §6.2.5.1). */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;

/** MSI capability (PCI 3.0 §6.8.1): Message Control bits. */
export const PCI_MSI_FLAGS_ENABLE = 0x0001;
/** Multiple Message Capable, log2 of the vectors the function asks for. */
export const PCI_MSI_FLAGS_QMASK = 0x000e;
/** Multiple Message Enable, log2 of the vectors software granted. */
export const PCI_MSI_FLAGS_QSIZE = 0x0070;
export const PCI_MSI_FLAGS_64BIT = 0x0080;
export const PCI_MSI_FLAGS_MASKBIT = 0x0100;
