/**
 * Names from the pci.ids database (https://pci-ids.ucw.cz; Debian's `pci.ids` package installs
 * it at /usr/share/misc/pci.ids). Without it, callers show the numeric ids.
 */
import { readFile } from "node:fs/promises";
import { VfioUsageError } from "../api/errors.js";

/** Names for vendor, device and class codes. Every lookup may miss. */
export interface PciIds {
  vendor(vendorId: number): string | undefined;
  device(vendorId: number, deviceId: number): string | undefined;
  /**
   * The name of a 24-bit class code as lspci shows it: the subclass ("PCI bridge"), else the
   * class ("Bridge"). Programming interfaces ("Normal decode") are left out, as lspci does.
   */
  className(classCode: number): string | undefined;
}

/** Where distributions install pci.ids, in the order tried. */
export const PCI_IDS_PATHS: readonly string[] = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"];

/** A PciIds that knows no names. */
export const noPciIds: PciIds = { vendor: () => undefined, device: () => undefined, className: () => undefined };

/**
 * Parses pci.ids text. Vendor lines are "vvvv  name", device lines "\tdddd  name", subsystem
 * lines "\t\tssss ssss  name" (not needed here); class sections start "C cc  name", with
 * "\tss  name" subclasses and "\t\tpp  name" programming interfaces.
 *
 * @example
 * parsePciIds("8086  Intel Corporation\n\t100e  82540EM Gigabit Ethernet Controller\n").device(0x8086, 0x100e);
 */
export function parsePciIds(text: string): PciIds {
  const vendors = new Map<number, string>();
  const devices = new Map<number, string>(); // key vendor << 16 | device
  const classes = new Map<number, string>(); // key: level, then class or class << 8 | subclass
  let vendor: number | undefined;
  let klass: number | undefined;
    for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("C ")) {
      const m = /^C ([0-9a-f]{2})\s+(.*)$/.exec(line);
      vendor = undefined;
      klass = m ? parseInt(m[1]!, 16) : undefined;
      if (m && klass !== undefined) classes.set(classKey(1, klass), m[2]!.trim());
      continue;
    }
    if (!line.startsWith("\t")) {
      const m = /^([0-9a-f]{4})\s+(.*)$/.exec(line);
      klass = undefined;
      vendor = m ? parseInt(m[1]!, 16) : undefined;
      if (m && vendor !== undefined) vendors.set(vendor, m[2]!.trim());
      continue;
    }
    if (line.startsWith("\t\t")) continue; // subsystems and programming interfaces: not shown
    if (vendor !== undefined) {
      const m = /^\t([0-9a-f]{4})\s+(.*)$/.exec(line);
      if (m) devices.set(vendor * 0x10000 + parseInt(m[1]!, 16), m[2]!.trim());
    } else if (klass !== undefined) {
      const m = /^\t([0-9a-f]{2})\s+(.*)$/.exec(line);
      if (m) {
        classes.set(classKey(2, (klass << 8) | parseInt(m[1]!, 16)), m[2]!.trim());
      }
    }
  }
  return {
    vendor: (v) => vendors.get(v),
    device: (v, d) => devices.get(v * 0x10000 + d),
    className: (code) =>
      classes.get(classKey(2, code >> 8)) ?? classes.get(classKey(1, code >> 16)),
  };
}

function classKey(level: 1 | 2, value: number): number {
  return level * 0x1000000 + value;
}

/**
 * Loads pci.ids from `path`, or from the first of {@link PCI_IDS_PATHS} that exists. Without a
 * `path`, resolves to {@link noPciIds} when there is none (names are a convenience, never
 * required); with a `path` that cannot be read, rejects with a VfioUsageError.
 */
export async function loadPciIds(path?: string): Promise<PciIds> {
  if (path !== undefined) {
    try {
      return parsePciIds(await readFile(path, "utf8"));
    } catch (error) {
      throw new VfioUsageError(`cannot read the pci.ids file ${path}: give an existing file (Debian: /usr/share/misc/pci.ids)`, "ENOENT", { cause: error });
    }
  }
  for (const candidate of PCI_IDS_PATHS) {
    try {
      return parsePciIds(await readFile(candidate, "utf8"));
    } catch {
      // Missing or unreadable: try the next, then go without names.
    }
  }
  return noPciIds;
}
