/**
 * PCI addresses in the kernel's sysfs spelling, "DDDD:BB:DD.F" (pci_name(),
 * drivers/pci/probe.c: "%04x:%02x:%02x.%d"), the spelling VFIO_GROUP_GET_DEVICE_FD takes.
 * Pure (no I/O), so it lives in api/ and serves host/ (sysfs names, CLI arguments) and emu/
 * (the emulated machine's topology) alike: one parser, not one per layer.
 */
import { VfioUsageError } from "./errors.js";

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

/** A PCI function's address as numbers: domain, bus, device (slot), function. */
export interface Bdf {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
}

/** The numbers in "0000:01:02.0" or "01:02.0" (domain 0); undefined when `text` is no address. */
export function parseBdf(text: string): Bdf | undefined {
  const address = tryParsePciAddress(text);
  if (address === undefined) return undefined;
  const [domain, bus, rest] = address.split(":") as [string, string, string];
  const [device, fn] = rest.split(".") as [string, string];
  return { domain: parseInt(domain, 16), bus: parseInt(bus, 16), device: parseInt(device, 16), fn: parseInt(fn, 16) };
}

/** The canonical address of `bdf`, "0000:01:02.0". */
export function formatBdf(bdf: Bdf): PciAddress {
  const h = (v: number, w: number) => v.toString(16).padStart(w, "0");
  return `${h(bdf.domain, 4)}:${h(bdf.bus, 2)}:${h(bdf.device, 2)}.${bdf.fn}` as PciAddress;
}

/** devfn as the kernel packs it: PCI_DEVFN(slot, func) = slot << 3 | func (include/uapi/linux/pci.h). */
export function devfn(bdf: Bdf): number {
  return (bdf.device << 3) | bdf.fn;
}

/** The 16-bit requester ID: PCI_DEVID(bus, devfn) = bus << 8 | devfn (include/linux/pci.h). */
export function requesterId(bus: number, devfnValue: number): number {
  return (bus << 8) | devfnValue;
}
