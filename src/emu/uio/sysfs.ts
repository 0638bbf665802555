/**
 * The sysfs nodes uio_pci_generic's registration adds (drivers/uio/uio.c uio_dev_add_attributes,
 * Linux 6.1): under the PCI function, uio/uioN/{name,version,event,dev}, and the class link
 * class/uio/uioN. `event` is the interrupt count /dev/uioN readers see.
 */
import type { Machine } from "../machine.js";
import type { PciFunction } from "../pci/function.js";

/** One node to add: a file's content, or a symlink's relative target; paths from the sysfs root. */
export type UioSysfsEntry = { readonly path: string; readonly file: string } | { readonly path: string; readonly link: string };

/** uio_major as Linux 6.1 usually gets it on the test guest's kernel (dynamic; shown in `dev`). */
const UIO_MAJOR = 243;

export function uioSysfsEntries(machine: Machine, fn: PciFunction, devicePath: readonly string[]): UioSysfsEntry[] {
  const registration = machine.uio.devices.get(fn);
  if (!registration) return [];
  const name = `uio${registration.number}`;
  const dir = [...devicePath, "uio", name];
  return [
    { path: `${dir.join("/")}/name`, file: "uio_pci_generic\n" },
    { path: `${dir.join("/")}/version`, file: "0.01.0\n" },
    { path: `${dir.join("/")}/event`, file: `${registration.events}\n` },
    { path: `${dir.join("/")}/dev`, file: `${UIO_MAJOR}:${registration.number}\n` },
    { path: `class/uio/${name}`, link: ["..", "..", ...dir].join("/") },
  ];
}
