/**
 * PCI addresses in the kernel's sysfs spelling, "DDDD:BB:DD.F" (pci_name(),
 * drivers/pci/probe.c: "%04x:%02x:%02x.%d").
 */
import { VfioUsageError } from "../api/errors.js";

/** A canonical PCI address, "0000:01:00.0": lower-case hex, domain included. */
export type PciAddress = string & { readonly __brand: "PciAddress" };

const FULL = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/;
const SHORT = /^([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/;

/**
 * The address in `text`, or undefined when it is not one. Accepts the short form
 * "01:00.0" (domain 0000, as lspci prints it) and any letter case; device numbers go to 0x1f.
 *
 * @example
 * tryParsePciAddress("01:00.0"); // "0000:01:00.0"
 */
export function tryParsePciAddress(text: string): PciAddress | undefined {
  const lower = text.trim().toLowerCase();
  const full = FULL.exec(lower);
  if (full) return `${full[1]}:${full[2]}:${full[3]}.${full[4]}` as PciAddress;
  const short = SHORT.exec(lower);
  if (short) return `0000:${short[1]}:${short[2]}.${short[3]}` as PciAddress;
  return undefined;
}

/**
 * The address in `text`; rejects anything else with a VfioUsageError (code EINVAL) that
 * shows the expected form.
 *
 * @example
 * parsePciAddress("0000:00:1f.2"); // "0000:00:1f.2"
 * parsePciAddress("1f.2");         // throws VfioUsageError
 */
export function parsePciAddress(text: string): PciAddress {
  const address = tryParsePciAddress(text);
  if (address === undefined) {
    throw new VfioUsageError(`'${text}' is not a PCI address: write it as DDDD:BB:DD.F, e.g. 0000:01:00.0 (see 'vfio ls')`, "EINVAL");
  }
  return address;
}

/** Orders addresses as the kernel lists them (domain, bus, device, function). */
export function comparePciAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
