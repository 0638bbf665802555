/**
 * Names of PCI class codes that need no pci.ids: the base classes of the PCI Code and ID
 * Assignment Specification (rev 1.x, §1 "Base Class"), plus the bridge and network subclasses
 * `vfio ls` shows most, worded as lspci words them.
 */

const BASE: ReadonlyMap<number, string> = new Map([
  [0x00, "Unclassified device"],
  [0x01, "Mass storage controller"],
  [0x02, "Network controller"],
  [0x03, "Display controller"],
  [0x04, "Multimedia controller"],
  [0x05, "Memory controller"],
  [0x06, "Bridge"],
  [0x07, "Communication controller"],
  [0x08, "Generic system peripheral"],
  [0x09, "Input device controller"],
  [0x0a, "Docking station"],
  [0x0b, "Processor"],
  [0x0c, "Serial bus controller"],
  [0x0d, "Wireless controller"],
  [0x0e, "Intelligent controller"],
  [0x0f, "Satellite communications controller"],
  [0x10, "Encryption controller"],
  [0x11, "Signal processing controller"],
  [0x12, "Processing accelerators"],
  [0x13, "Non-Essential Instrumentation"],
  [0x40, "Coprocessor"],
  [0xff, "Unassigned class"],
]);

const SUB: ReadonlyMap<number, string> = new Map([
  [0x0108, "Non-Volatile memory controller"],
  [0x0200, "Ethernet controller"],
  [0x0300, "VGA compatible controller"],
  [0x0600, "Host bridge"],
  [0x0601, "ISA bridge"],
  [0x0604, "PCI bridge"],
  [0x0c03, "USB controller"],
  [0x0c05, "SMBus"],
]);

/**
 * The built-in name of a 24-bit class code: a known subclass, else the base class.
 *
 * @example
 * builtinPciClassName(0x060400); // "PCI bridge"
 * builtinPciClassName(0x0c0330); // "USB controller"
 * builtinPciClassName(0x078000); // "Communication controller"
 */
export function builtinPciClassName(classCode: number): string | undefined {
  return SUB.get(classCode >> 8) ?? BASE.get(classCode >> 16);
}
