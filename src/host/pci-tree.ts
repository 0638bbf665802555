/**
 * Where each PCI function sits in the hierarchy: its parent bridge, from the path its
 * bus/pci/devices link points at (/sys/devices/pci0000:00/0000:00:04.0/0000:01:01.0: behind
 * the bridge 0000:00:04.0, on root bus pci0000:00; drivers/pci/probe.c names them so).
 */
import type { Sysfs } from "../api/sysfs.js";
import { tryParsePciAddress } from "../api/pci-address.js";

/** A function's place: the bridge above it (undefined on a root bus) and its root bus. */
export interface PciPlace {
  readonly parent: string | undefined;
  /** "pci0000:00", the host bridge's directory name. */
  readonly root: string;
}

/** The place of each of `addresses`; a device whose link says nothing is put on root bus "?". */
export async function readPciPlaces(sysfs: Sysfs, addresses: readonly string[]): Promise<Map<string, PciPlace>> {
  const places = new Map<string, PciPlace>();
  for (const address of addresses) {
    const parts = ((await sysfs.readlink(`bus/pci/devices/${address}`)) ?? "").split("/").filter((p) => p !== "" && p !== "..");
    const self = parts.lastIndexOf(address);
    const above = self > 0 ? parts[self - 1]! : undefined;
    const root = parts.find((p) => /^pci[0-9a-f]{4}:[0-9a-f]{2}$/.test(p)) ?? "?";
    places.set(address, { parent: above !== undefined && tryParsePciAddress(above) !== undefined ? above : undefined, root });
  }
  return places;
}
