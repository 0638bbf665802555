/**
 * How a PCI device is named in text and JSON: ids as lspci -n prints them, names from pci.ids
 * when known.
 */
import type { PciDevice } from "../host/pci-devices.js";
import { builtinPciClassName } from "../host/pci-class-names.js";
import type { PciIds } from "../host/pci-ids.js";

import { hexDigits as hex } from "./format.js";

/** "8086:100e". */
export function deviceIds(device: PciDevice): string {
  return `${hex(device.vendorId, 4)}:${hex(device.deviceId, 4)}`;
}

/** "Ethernet controller": from pci.ids, else the built-in names, else "class 020000". */
export function className(device: PciDevice, ids: PciIds): string {
  return ids.className(device.classCode) ?? builtinPciClassName(device.classCode) ?? `class ${hex(device.classCode, 6)}`;
}

/** "Intel Corporation 82540EM Gigabit Ethernet Controller", or "-" without pci.ids (the ids are shown beside it). */
export function deviceName(device: PciDevice, ids: PciIds): string {
  const vendor = ids.vendor(device.vendorId);
  const name = ids.device(device.vendorId, device.deviceId);
  if (vendor === undefined) return "-";
  return name === undefined ? `${vendor} device ${hex(device.deviceId, 4)}` : `${vendor} ${name}`;
}

/** The JSON shape of a device in `vfio ls --json` and `vfio check --json`. */
export function deviceJson(device: PciDevice, ids: PciIds): Record<string, unknown> {
  return {
    address: device.address,
    vendorId: hex(device.vendorId, 4),
    deviceId: hex(device.deviceId, 4),
    classCode: hex(device.classCode, 6),
    vendorName: ids.vendor(device.vendorId) ?? null,
    deviceName: ids.device(device.vendorId, device.deviceId) ?? null,
    className: ids.className(device.classCode) ?? builtinPciClassName(device.classCode) ?? null,
    driver: device.driver ?? null,
    driverOverride: device.driverOverride ?? null,
    iommuGroup: device.iommuGroup ?? null,
    numaNode: device.numaNode ?? null,
    bootVga: device.bootVga ?? null,
    resetMethods: device.resetMethods ?? null,
    physfn: device.physfn ?? null,
    virtfns: device.virtfns,
  };
}

/** JSON.stringify with bigints as numbers when exact, else strings. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v),
    2,
  )}\n`;
}
