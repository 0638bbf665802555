/**
 * What `vfio info` shows of an open VfioDevice, whichever backend reached it (kernel ioctls,
 * vfio-user, the emulated machine): device info, every region with its flags and caps, every
 * IRQ index, and the PCI identity from config space. Data first; the text is rendered from it.
 */
import type { VfioDevice } from "../api/device.js";
import type { DeviceInfo, IrqInfo, RegionInfo } from "../api/device-info.js";
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
} from "../api/constants.js";

export interface VfioDeviceDescription {
  readonly name: string;
  readonly info: DeviceInfo;
  readonly identity?: { readonly vendorId: number; readonly deviceId: number; readonly classCode: number; readonly revision: number };
  readonly regions: readonly RegionInfo[];
  readonly irqs: readonly IrqInfo[];
}

const REGION_NAMES = ["BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "config", "VGA"];
const IRQ_NAMES = ["INTx", "MSI", "MSI-X", "ERR", "REQ"];

/** Asks the device everything `vfio info` shows. */
export async function describeVfioDevice(device: VfioDevice): Promise<VfioDeviceDescription> {
  const info = await device.info();
  const regions: RegionInfo[] = [];
  for (let i = 0; i < info.numRegions; i++) regions.push(await device.regionInfo(i));
  const irqs: IrqInfo[] = [];
  for (let i = 0; i < info.numIrqs; i++) irqs.push(await device.irqInfo(i));
  let identity: VfioDeviceDescription["identity"];
  const config = regions[VFIO_PCI_CONFIG_REGION_INDEX];
  if (info.flags & VFIO_DEVICE_FLAGS_PCI && config && config.size >= 16n) {
    const b = await device.read(VFIO_PCI_CONFIG_REGION_INDEX, 0n, 12);
    identity = { vendorId: b[0]! | (b[1]! << 8), deviceId: b[2]! | (b[3]! << 8), revision: b[8]!, classCode: b[9]! | (b[10]! << 8) | (b[11]! << 16) };
  }
  return { name: device.name, info, ...(identity ? { identity } : {}), regions, irqs };
}

const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, "0")}`;

function flagList(flags: number, names: readonly [number, string][]): string {
  const set = names.filter(([bit]) => flags & bit).map(([, n]) => n);
  return set.length > 0 ? set.join(",") : "-";
}

/** The text `vfio info` prints. */
export function formatVfioDeviceDescription(d: VfioDeviceDescription): string {
  const lines = [`device ${d.name}`];
  lines.push(`  flags ${flagList(d.info.flags, [[VFIO_DEVICE_FLAGS_PCI, "PCI"], [VFIO_DEVICE_FLAGS_RESET, "RESET"]])}, ${d.info.numRegions} regions, ${d.info.numIrqs} IRQ indexes`);
  if (d.identity) {
    lines.push(`  PCI ${hex(d.identity.vendorId, 4).slice(2)}:${hex(d.identity.deviceId, 4).slice(2)} class ${hex(d.identity.classCode, 6)} rev ${hex(d.identity.revision, 2)}`);
  }
  lines.push("  regions:");
  for (const r of d.regions) {
    if (r.size === 0n && r.flags === 0) continue;
    const flags = flagList(r.flags, [[VFIO_REGION_INFO_FLAG_READ, "read"], [VFIO_REGION_INFO_FLAG_WRITE, "write"], [VFIO_REGION_INFO_FLAG_MMAP, "mmap"], [VFIO_REGION_INFO_FLAG_CAPS, "caps"]]);
    const caps = r.caps.map((c) => (c.kind === "sparse-mmap" ? `sparse-mmap ${c.areas.map((a) => `${hex(a.offset)}+${hex(a.size)}`).join(" ")}` : c.kind === "type" ? `type ${c.type}/${c.subtype}` : c.kind));
    lines.push(`    ${String(r.index).padStart(2)} ${(REGION_NAMES[r.index] ?? "dev").padEnd(7)} size ${hex(r.size).padEnd(10)} offset ${hex(r.offset).padEnd(16)} ${flags}${caps.length ? `  [${caps.join("; ")}]` : ""}`);
  }
  lines.push("  interrupts:");
  for (const irq of d.irqs) {
    if (irq.count === 0) continue;
    const flags = flagList(irq.flags, [[VFIO_IRQ_INFO_EVENTFD, "eventfd"], [VFIO_IRQ_INFO_MASKABLE, "maskable"], [VFIO_IRQ_INFO_AUTOMASKED, "automasked"], [VFIO_IRQ_INFO_NORESIZE, "noresize"]]);
    lines.push(`    ${String(irq.index).padStart(2)} ${(IRQ_NAMES[irq.index] ?? "?").padEnd(6)} ${irq.count} vector${irq.count === 1 ? "" : "s"}  ${flags}`);
  }
  return `${lines.join("\n")}\n`;
}

/** JSON-safe form (bigints as hex strings). */
export function vfioDeviceDescriptionJson(d: VfioDeviceDescription): unknown {
  return JSON.parse(JSON.stringify(d, (_k, v: unknown) => (typeof v === "bigint" ? hex(v) : v instanceof Uint8Array ? [...v] : v)));
}
