/**
 * PCI configuration space through a VfioDevice's config region (VFIO_PCI_CONFIG_REGION_INDEX):
 * typed reads and writes, the Command register bits a driver needs (memory space, bus master:
 * PCI Local Bus Spec 3.0 §6.2.2; PCIe Base Spec §7.5.1.1), and the capability lists
 * (standard list from 0x34, §6.7; extended list from 0x100, PCIe §7.6).
 */
import {
  PCI_CAPABILITY_LIST, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_STATUS, PCI_STATUS_CAP_LIST,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from "./constants.js";
import type { VfioDevice } from "./device.js";

const CONFIG = VFIO_PCI_CONFIG_REGION_INDEX;

function le(bytes: Uint8Array): number {
  let value = 0;
  for (let i = bytes.byteLength - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
  return value;
}

/** Reads a 1-, 2- or 4-byte config register (little-endian). */
export async function readConfig(device: VfioDevice, offset: number, size: 1 | 2 | 4): Promise<number> {
  const bytes = await device.read(CONFIG, BigInt(offset), size);
  if (bytes.byteLength !== size) throw new RangeError(`config read of ${size} bytes at 0x${offset.toString(16)} returned ${bytes.byteLength}`);
  return le(bytes);
}

/** Writes a 1-, 2- or 4-byte config register (little-endian). */
export async function writeConfig(device: VfioDevice, offset: number, size: 1 | 2 | 4, value: number): Promise<void> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (value >>> (8 * i)) & 0xff;
  await device.write(CONFIG, BigInt(offset), bytes);
}

/** Sets and clears bits of the Command register; resolves with the value read back. */
export async function updateCommand(device: VfioDevice, set: number, clear = 0): Promise<number> {
  const command = await readConfig(device, PCI_COMMAND, 2);
  await writeConfig(device, PCI_COMMAND, 2, (command | set) & ~clear & 0xffff);
  return readConfig(device, PCI_COMMAND, 2);
}

/** Enables memory-space decoding and bus mastering (needed for MMIO, DMA and MSI). */
export async function enableMemoryAndBusMaster(device: VfioDevice): Promise<number> {
  return updateCommand(device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/** Sets or clears the Bus Master bit alone. */
export async function setBusMaster(device: VfioDevice, on: boolean): Promise<number> {
  return on ? updateCommand(device, PCI_COMMAND_MASTER) : updateCommand(device, 0, PCI_COMMAND_MASTER);
}

/** One capability found in config space. */
export interface PciCapability {
  readonly id: number;
  /** Offset of its header in config space. */
  readonly offset: number;
  /** Standard (8-bit id, list from 0x34) or extended (16-bit id, list from 0x100). */
  readonly extended: boolean;
  /** Extended capabilities: the version nibble. */
  readonly version?: number;
}

/**
 * Walks the standard capability list (and the extended list where config space is 4 KiB).
 * Bounded: at most 48 standard entries (256 bytes / 4-byte minimum, Linux's PCI_FIND_CAP_TTL)
 * and 960 extended ones, and a loop ends the walk.
 */
export async function listCapabilities(device: VfioDevice): Promise<PciCapability[]> {
  const caps: PciCapability[] = [];
  const status = await readConfig(device, PCI_STATUS, 2);
  if ((status & PCI_STATUS_CAP_LIST) !== 0) {
    const seen = new Set<number>();
    let pointer = (await readConfig(device, PCI_CAPABILITY_LIST, 1)) & 0xfc;
    for (let ttl = 48; pointer >= 0x40 && ttl > 0 && !seen.has(pointer); ttl--) {
      seen.add(pointer);
      const header = await readConfig(device, pointer, 2);
      caps.push({ id: header & 0xff, offset: pointer, extended: false });
      pointer = (header >>> 8) & 0xfc;
    }
  }
  const config = await device.regionInfo(CONFIG);
  if (config.size > 0x100n) {
    const seen = new Set<number>();
    let pointer = 0x100;
    for (let ttl = 960; pointer >= 0x100 && ttl > 0 && !seen.has(pointer); ttl--) {
      seen.add(pointer);
      const header = await readConfig(device, pointer, 4).catch(() => 0);
      // An all-zero (or all-ones) header at 0x100 means no extended capabilities (PCIe §7.6.3).
      if (header === 0 || header === 0xffffffff) break;
      caps.push({ id: header & 0xffff, offset: pointer, extended: true, version: (header >>> 16) & 0xf });
      pointer = (header >>> 20) & 0xffc;
    }
  }
  return caps;
}

/** The offset of the first standard capability with `id`, or undefined. */
export async function findCapability(device: VfioDevice, id: number): Promise<number | undefined> {
  return (await listCapabilities(device)).find((c) => !c.extended && c.id === id)?.offset;
}
