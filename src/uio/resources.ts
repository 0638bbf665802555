/**
 * A PCI function's resources as sysfs lists them: one line per resource in
 * /sys/bus/pci/devices/X/resource, "start end flags" in hex (resource_show,
 * drivers/pci/pci-sysfs.c), BARs 0-5 then the ROM. The flags are struct resource's
 * IORESOURCE_* bits (include/linux/ioport.h).
 */
import { VfioProtocolError } from "../api/errors.js";

export const IORESOURCE_IO = 0x100;
export const IORESOURCE_MEM = 0x200;
export const IORESOURCE_PREFETCH = 0x2000;

/** One BAR (or the ROM): its bus address range and flags; size 0 where it is not implemented. */
export interface PciResourceLine {
  readonly start: bigint;
  readonly size: bigint;
  readonly flags: number;
}

const HEX = /^0x[0-9a-fA-F]{1,16}$/;

/** Parses the `resource` file; a malformed line is a VfioProtocolError naming it. */
export function parseResources(text: string, device: string): PciResourceLine[] {
  const lines = text.split("\n").filter((l) => l.trim().length > 0);
  return lines.map((line, i) => {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 3 || !fields.every((f) => HEX.test(f))) {
      throw new VfioProtocolError(`${device}: sysfs resource line ${i} "${line.slice(0, 80)}" is not "start end flags" in hex`, "resource");
    }
    const [start, end, flags] = fields.map((f) => BigInt(f)) as [bigint, bigint, bigint];
    const size = start === 0n && end === 0n ? 0n : end - start + 1n;
    if (size < 0n || flags > 0xffffffffn) throw new VfioProtocolError(`${device}: sysfs resource line ${i} ends before it starts`, "resource");
    return { start, size, flags: Number(flags) };
  });
}
