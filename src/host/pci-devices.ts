/**
 * PCI devices as sysfs shows them under bus/pci/devices (Documentation/ABI/testing/sysfs-bus-pci).
 */
import { VfioProtocolError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { comparePciAddress, tryParsePciAddress, type PciAddress } from "../api/pci-address.js";
import { readDecimal, readHex, readLinkName, readText } from "./sysfs-attribute.js";

/** One PCI function and what the kernel says about it. Absent attributes are undefined. */
export interface PciDevice {
  readonly address: PciAddress;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly subsystemVendorId: number | undefined;
  readonly subsystemDeviceId: number | undefined;
  /** 24-bit class code: class << 16 | subclass << 8 | prog-if. */
  readonly classCode: number;
  readonly revision: number | undefined;
  /** The bound driver's name ("e1000", "vfio-pci"), or undefined when unbound. */
  readonly driver: string | undefined;
  /** `driver_override`, when set (the kernel shows "(null)" when not). */
  readonly driverOverride: string | undefined;
  /** IOMMU group number, or undefined when the device has none (no IOMMU). */
  readonly iommuGroup: number | undefined;
  /** NUMA node, or undefined when the kernel reports -1 (none). */
  readonly numaNode: number | undefined;
  /** True for the VGA device the firmware booted on (`boot_vga`, VGA devices only). */
  readonly bootVga: boolean | undefined;
  /** `reset_method` (Linux 5.15+): "flr bus"; undefined when absent, which from 5.15 means none (diagnose() reads it so). */
  readonly resetMethods: readonly string[] | undefined;
  /** The physical function of an SR-IOV virtual function. */
  readonly physfn: PciAddress | undefined;
  /** The virtual functions of an SR-IOV physical function, in VF order. */
  readonly virtfns: readonly PciAddress[];
  readonly sriovTotalVfs: number | undefined;
  readonly sriovNumVfs: number | undefined;
}

const DEVICES = "bus/pci/devices";

function linkedAddress(sysfs: Sysfs, path: string, name: string | undefined): PciAddress | undefined {
  if (name === undefined) return undefined;
  const address = tryParsePciAddress(name);
  if (address === undefined) throw new VfioProtocolError(`${sysfs.description}/${path}: links to '${name}', not a PCI device`, path);
  return address;
}

/**
 * Reads one device, or resolves undefined when `address` is not in bus/pci/devices.
 *
 * @example
 * const dev = await readPciDevice(sysfs, parsePciAddress("0000:00:03.0"));
 */
export async function readPciDevice(sysfs: Sysfs, address: PciAddress): Promise<PciDevice | undefined> {
  const dir = `${DEVICES}/${address}`;
  const vendorId = await readHex(sysfs, `${dir}/vendor`);
  if (vendorId === undefined) return undefined;
  const deviceId = await readHex(sysfs, `${dir}/device`);
  const classCode = await readHex(sysfs, `${dir}/class`);
  if (deviceId === undefined || classCode === undefined) {
    throw new VfioProtocolError(`${sysfs.description}/${dir}: has a vendor but no device or class`, dir);
  }
  // Independent reads: issue them together (a large host has hundreds of devices).
  const [groupName, numaNode, bootVga, reset, override, entries, subsystemVendorId, subsystemDeviceId, revision, driver, physfnName, sriovTotalVfs, sriovNumVfs] =
    await Promise.all([
      readLinkName(sysfs, `${dir}/iommu_group`),
      readDecimal(sysfs, `${dir}/numa_node`),
      readText(sysfs, `${dir}/boot_vga`),
      readText(sysfs, `${dir}/reset_method`),
      readText(sysfs, `${dir}/driver_override`),
      sysfs.list(dir),
      readHex(sysfs, `${dir}/subsystem_vendor`),
      readHex(sysfs, `${dir}/subsystem_device`),
      readHex(sysfs, `${dir}/revision`),
      readLinkName(sysfs, `${dir}/driver`),
      readLinkName(sysfs, `${dir}/physfn`),
      readDecimal(sysfs, `${dir}/sriov_totalvfs`),
      readDecimal(sysfs, `${dir}/sriov_numvfs`),
    ]);
  let iommuGroup: number | undefined;
  if (groupName !== undefined) {
    if (!/^\d+$/.test(groupName)) throw new VfioProtocolError(`${sysfs.description}/${dir}/iommu_group: links to '${groupName}', not a group number`, dir);
    iommuGroup = Number(groupName);
  }
  const virtfns = (entries ?? [])
    .filter((name) => /^virtfn\d+$/.test(name))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  const virtfnNames = await Promise.all(virtfns.map((link) => readLinkName(sysfs, `${dir}/${link}`)));
  const virtfnAddresses = virtfns
    .map((link, i) => linkedAddress(sysfs, `${dir}/${link}`, virtfnNames[i]))
    .filter((a): a is PciAddress => a !== undefined);
  return {
    address,
    vendorId,
    deviceId,
    subsystemVendorId,
    subsystemDeviceId,
    classCode,
    revision,
    driver,
    driverOverride: override === undefined || override === "(null)" || override === "" ? undefined : override,
    iommuGroup,
    numaNode: numaNode === undefined || numaNode < 0 ? undefined : numaNode,
    bootVga: bootVga === undefined ? undefined : bootVga === "1",
    resetMethods: reset === undefined ? undefined : reset.split(/\s+/).filter((m) => m !== ""),
    physfn: linkedAddress(sysfs, `${dir}/physfn`, physfnName),
    virtfns: virtfnAddresses,
    sriovTotalVfs,
    sriovNumVfs,
  };
}

/**
 * Every PCI device in bus/pci/devices, in address order. Entries that are not PCI addresses
 * reject (sysfs contents are input).
 *
 * @example
 * for (const dev of await listPciDevices(sysfs)) console.log(dev.address, dev.driver);
 */
export async function listPciDevices(sysfs: Sysfs): Promise<readonly PciDevice[]> {
  const names = (await sysfs.list(DEVICES)) ?? [];
  const addresses = [...names].sort(comparePciAddress).map((name) => {
    const address = tryParsePciAddress(name);
    if (address === undefined) throw new VfioProtocolError(`${sysfs.description}/${DEVICES}/${name}: not a PCI address`, DEVICES);
    return address;
  });
  // A few devices at a time: each opens ~13 files at once, and a host may have hundreds of
  // devices, more than a default 1024-fd limit if all were read together (EMFILE).
  const devices: PciDevice[] = [];
  for (let i = 0; i < addresses.length; i += 8) {
    const batch = await Promise.all(addresses.slice(i, i + 8).map((a) => readPciDevice(sysfs, a)));
    for (const d of batch) if (d !== undefined) devices.push(d);
  }
  return devices;
}
