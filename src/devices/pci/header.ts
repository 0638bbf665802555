/**
 * The configuration header of a PCI function, type 0 (an endpoint, PCI Local Bus Spec 3.0
 * §6.1, Figure 6-1) or type 1 (a PCI-PCI bridge or PCIe port, PCI Bridge Spec 1.2 §3.2): its
 * power-on image and QEMU's write masks (hw/pci/pci.c pci_init_wmask, pci_init_w1cmask,
 * pci_init_mask_bridge), so that a function answers config writes as the same device in QEMU.
 */
import { struct, u8, u16, u32, bytes } from "../../abi/struct.js";
import type { PciIdentity } from "../../api/hosting.js";
import {
  PCI_BASE_ADDRESS_0, PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_BUS_RESET, PCI_BRIDGE_CTL_FAST_BACK, PCI_BRIDGE_CTL_ISA,
  PCI_BRIDGE_CTL_MASTER_ABORT, PCI_BRIDGE_CTL_PARITY, PCI_BRIDGE_CTL_SERR, PCI_BRIDGE_CTL_VGA, PCI_CACHE_LINE_SIZE,
  PCI_CLASS_REVISION, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY,
  PCI_COMMAND_SERR, PCI_DEVICE_ID, PCI_HEADER_TYPE, PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_NORMAL, PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN, PCI_IO_BASE, PCI_IO_LIMIT, PCI_IO_RANGE_TYPE_16, PCI_MEMORY_BASE, PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32, PCI_PREF_MEMORY_BASE, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64, PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS, PCI_SEC_STATUS, PCI_STATUS, PCI_STATUS_DETECTED_PARITY, PCI_STATUS_PARITY,
  PCI_STATUS_REC_MASTER_ABORT, PCI_STATUS_REC_TARGET_ABORT, PCI_STATUS_SIG_SYSTEM_ERROR, PCI_STATUS_SIG_TARGET_ABORT,
  PCI_SUBORDINATE_BUS, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID,
} from "../../api/pci-regs.js";
import type { BarSlot } from "./bar.js";

/** The type 0 configuration header (PCI 3.0 §6.1, Figure 6-1). */
export const pciType0HeaderLayout = struct(
  "pci_type0_header",
  {
    vendorId: u16, deviceId: u16, command: u16, status: u16,
    revision: u8, progIf: u8, subClass: u8, baseClass: u8,
    cacheLineSize: u8, latencyTimer: u8, headerType: u8, bist: u8,
    bar0: u32, bar1: u32, bar2: u32, bar3: u32, bar4: u32, bar5: u32,
    cardbusCis: u32, subsystemVendorId: u16, subsystemId: u16, romAddress: u32,
    capabilitiesPointer: u8, reserved: bytes(7),
    interruptLine: u8, interruptPin: u8, minGnt: u8, maxLat: u8,
  },
  { packed: true },
);

/** Command bits software may write (QEMU pci_init_wmask: I/O, memory, master, SERR#, INTx disable). */
export const COMMAND_WMASK = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;
/** Status error bits that software clears by writing 1 (PCI 3.0 §6.2.3; QEMU pci_init_w1cmask). */
export const STATUS_W1CMASK =
  PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY;
/** Bridge Control bits QEMU's pci_init_mask_bridge makes writable (VGA 16-bit decode 0x10 and the discard timers 0x100-0x800 too). */
const BRIDGE_CONTROL_WMASK =
  PCI_BRIDGE_CTL_PARITY | PCI_BRIDGE_CTL_SERR | PCI_BRIDGE_CTL_ISA | PCI_BRIDGE_CTL_VGA | 0x10 |
  PCI_BRIDGE_CTL_MASTER_ABORT | PCI_BRIDGE_CTL_BUS_RESET | PCI_BRIDGE_CTL_FAST_BACK | 0x100 | 0x200 | 0x800;

export interface HeaderOptions {
  readonly identity: PciIdentity;
  readonly intxPin: number;
  /** Type 1 (a bridge) instead of type 0. */
  readonly bridge: boolean;
  readonly multifunction: boolean;
  /** A bridge's primary, secondary and subordinate bus numbers (as firmware left them). */
  readonly busNumbers: readonly [number, number, number] | undefined;
  readonly bars: readonly BarSlot[];
  /** The addresses firmware assigned, by BAR number (0n or absent: unassigned). */
  readonly barAddresses: readonly bigint[];
  readonly interruptLine: number;
}

export function setLE(b: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) {
    b[offset + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}

export function getLE(b: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + b[offset + i]!;
  return value;
}

/** Writes the header's power-on image into `config` and its masks into `wmask`/`w1cmask`. */
export function installHeader(config: Uint8Array, wmask: Uint8Array, w1cmask: Uint8Array, o: HeaderOptions): void {
  const id = o.identity;
  setLE(config, PCI_VENDOR_ID, 2, id.vendorId);
  setLE(config, PCI_DEVICE_ID, 2, id.deviceId);
  setLE(config, PCI_CLASS_REVISION, 4, ((id.classCode & 0xffffff) * 256 + (id.revision & 0xff)));
  config[PCI_HEADER_TYPE] = (o.bridge ? PCI_HEADER_TYPE_BRIDGE : PCI_HEADER_TYPE_NORMAL) | (o.multifunction ? 0x80 : 0);
  setLE(wmask, PCI_COMMAND, 2, COMMAND_WMASK);
  setLE(w1cmask, PCI_STATUS, 2, STATUS_W1CMASK);
  wmask[PCI_CACHE_LINE_SIZE] = 0xff;
  wmask[PCI_INTERRUPT_LINE] = 0xff;
  for (const bar of o.bars) {
    const at = PCI_BASE_ADDRESS_0 + 4 * bar.index;
    const address = o.barAddresses[bar.index] ?? 0n;
    setLE(config, at, 4, (Number(address & 0xffff_ffffn) & bar.lowMask) | bar.typeBits);
    setLE(wmask, at, 4, bar.lowMask);
    if (bar.highMask !== undefined) {
      setLE(config, at + 4, 4, Number((address >> 32n) & 0xffff_ffffn) & bar.highMask);
      setLE(wmask, at + 4, 4, bar.highMask);
    }
  }
  config[PCI_INTERRUPT_PIN] = o.intxPin;
  config[PCI_INTERRUPT_LINE] = o.intxPin ? o.interruptLine : 0;
  if (!o.bridge) {
    setLE(config, PCI_SUBSYSTEM_VENDOR_ID, 2, id.subsystemVendorId);
    setLE(config, PCI_SUBSYSTEM_ID, 2, id.subsystemId);
    return;
  }
  // Type 1 (QEMU pci_init_mask_bridge): bus numbers and secondary latency, the forwarding
  // windows (16-bit I/O, 64-bit prefetchable memory), Bridge Control.
  if (o.busNumbers) {
    const [primary, secondary, subordinate] = o.busNumbers;
    config[PCI_PRIMARY_BUS] = primary;
    config[PCI_SECONDARY_BUS] = secondary;
    config[PCI_SUBORDINATE_BUS] = subordinate;
  }
  wmask.fill(0xff, PCI_PRIMARY_BUS, PCI_PRIMARY_BUS + 4);
  wmask[PCI_IO_BASE] = 0xf0;
  wmask[PCI_IO_LIMIT] = 0xf0;
  config[PCI_IO_BASE] |= PCI_IO_RANGE_TYPE_16;
  config[PCI_IO_LIMIT] |= PCI_IO_RANGE_TYPE_16;
  setLE(wmask, PCI_MEMORY_BASE, 2, 0xfff0);
  setLE(wmask, PCI_MEMORY_LIMIT, 2, 0xfff0);
  setLE(wmask, PCI_PREF_MEMORY_BASE, 2, 0xfff0);
  setLE(wmask, PCI_PREF_MEMORY_LIMIT, 2, 0xfff0);
  config[PCI_PREF_MEMORY_BASE] |= PCI_PREF_RANGE_TYPE_64;
  config[PCI_PREF_MEMORY_LIMIT] |= PCI_PREF_RANGE_TYPE_64;
  wmask.fill(0xff, PCI_PREF_BASE_UPPER32, PCI_PREF_BASE_UPPER32 + 8);
  setLE(wmask, PCI_BRIDGE_CONTROL, 2, BRIDGE_CONTROL_WMASK);
  // Secondary Status error bits are write-1-to-clear like Status's (PCI Bridge Spec 1.2 §3.2.5.7).
  setLE(w1cmask, PCI_SEC_STATUS, 2, STATUS_W1CMASK);
}
