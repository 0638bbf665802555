/**
 * PCI function addresses as the kernel names them: domain:bus:device.function, the sysfs and
 * VFIO_GROUP_GET_DEVICE_FD spelling ("0000:00:03.0"). Kept in emu/ because emu may not import
 * host/ (layer rule); it is the same format.
 */

/** A PCI function's address: domain, bus, device (slot), function. */
export interface Bdf {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
}

const pattern = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/i;

/** Parses "0000:01:02.0" or "01:02.0" (domain 0). Returns undefined when malformed. */
export function parseBdf(text: string): Bdf | undefined {
  const m = pattern.exec(text.trim());
  if (!m) return undefined;
  return {
    domain: m[1] === undefined ? 0 : parseInt(m[1], 16),
    bus: parseInt(m[2]!, 16),
    device: parseInt(m[3]!, 16),
    fn: parseInt(m[4]!, 16),
  };
}

/** "0000:01:02.0". */
export function formatBdf(bdf: Bdf): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, "0");
  return `${h(bdf.domain, 4)}:${h(bdf.bus, 2)}:${h(bdf.device, 2)}.${bdf.fn}`;
}

/** devfn as the kernel packs it: PCI_DEVFN(slot, func) = slot << 3 | func. */
export function devfn(bdf: Bdf): number {
  return (bdf.device << 3) | bdf.fn;
}

/** The 16-bit requester ID: PCI_DEVID(bus, devfn) = bus << 8 | devfn. */
export function requesterId(bus: number, devfnValue: number): number {
  return (bus << 8) | devfnValue;
}
