/**
 * The host kernel's PCI drivers, as far as VFIO can observe them: which devices each one
 * matches (its id_table, or driver_override), whether its probe accepts the device, and whether
 * it declares driver_managed_dma (drivers that do not make the device use the kernel's default
 * DMA domain, which is what makes an IOMMU group "not viable" for VFIO in Linux 6.1).
 */
import { DRIVER_MANAGED_DMA_LINUX_6_1 } from "../../api/driver-managed-dma.js";
import { errnoValue } from "../../api/errors.js";
import type { PciFunction } from "./function.js";
import { UioPciGeneric } from "../uio/uio-driver.js";

export interface HostDriver {
  readonly name: string;
  /** Matches the driver's static id_table (not driver_override). */
  matchesId(fn: PciFunction): boolean;
  /** true when the id_table entry is override-only (vfio-pci's PCI_DRIVER_OVERRIDE_DEVICE_VFIO). */
  readonly overrideOnly: boolean;
  /** struct pci_driver.driver_managed_dma. */
  readonly driverManagedDma: boolean;
  /** The probe: 0, or the positive errno it fails with. */
  probe(fn: PciFunction): number;
}

const ids = (vendor: number, devices: readonly number[]) => (fn: PciFunction) =>
  fn.model.identity.vendorId === vendor && devices.includes(fn.model.identity.deviceId);
const byClass = (classCode: number, mask = 0xffffff) => (fn: PciFunction) => (fn.classCode & mask) === (classCode & mask);

/** A driver as the table below declares it; driver_managed_dma comes from the one 6.1 list. */
type DriverEntry = Omit<HostDriver, "driverManagedDma">;

const drivers: Readonly<Record<string, DriverEntry>> = {
  // drivers/vfio/pci/vfio_pci.c: binds only through driver_override (or new_id); probe refuses
  // anything but a normal header (vfio_pci_core_register_device: "hdr_type != NORMAL" → -EINVAL).
  "vfio-pci": {
    name: "vfio-pci",
    matchesId: () => true,
    overrideOnly: true,
    probe: (fn) => (fn.headerType !== 0 ? errnoValue("EINVAL") : 0),
  },
  // drivers/pci/pcie/portdrv_pci.c: class PCI bridge, probe accepts root/upstream/downstream ports.
  pcieport: {
    name: "pcieport",
    matchesId: byClass(0x060400, 0xffff00),
    overrideOnly: false,
    probe: (fn) => (fn.isPciePort ? 0 : errnoValue("ENODEV")),
  },
  // drivers/net/ethernet/intel/e1000: 82540EM (QEMU's e1000) among others.
  e1000: { name: "e1000", matchesId: ids(0x8086, [0x100e, 0x100f, 0x1004, 0x1000, 0x1001, 0x1026, 0x107c]), overrideOnly: false, probe: () => 0 },
  e1000e: { name: "e1000e", matchesId: ids(0x8086, [0x10d3, 0x10d4, 0x10f6, 0x150c]), overrideOnly: false, probe: () => 0 },
  nvme: { name: "nvme", matchesId: byClass(0x010802), overrideOnly: false, probe: () => 0 },
  ahci: { name: "ahci", matchesId: byClass(0x010601), overrideOnly: false, probe: () => 0 },
  lpc_ich: { name: "lpc_ich", matchesId: ids(0x8086, [0x2918]), overrideOnly: false, probe: () => 0 },
  i801_smbus: { name: "i801_smbus", matchesId: ids(0x8086, [0x2930]), overrideOnly: false, probe: () => 0 },
  "bochs-drm": { name: "bochs-drm", matchesId: ids(0x1234, [0x1111]), overrideOnly: false, probe: () => 0 },
  // drivers/virtio/virtio_pci_common.c: vendor 1af4, devices 0x1000-0x107f.
  "virtio-pci": {
    name: "virtio-pci",
    matchesId: (fn) => fn.model.identity.vendorId === 0x1af4 && fn.model.identity.deviceId >= 0x1000 && fn.model.identity.deviceId <= 0x107f,
    overrideOnly: false,
    probe: () => 0,
  },
  // drivers/pci/hotplug/shpchp_core.c: matches every PCI-PCI bridge; its probe declines when the
  // firmware keeps SHPC hotplug (as on the test guest, where the bridge stays unbound).
  shpchp: { name: "shpchp", matchesId: byClass(0x060400), overrideOnly: false, probe: () => errnoValue("ENODEV") },
  // Built-in drivers present on the guest that match none of the emulated devices.
  serial: { name: "serial", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "8250_mid": { name: "8250_mid", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "8250_pericom": { name: "8250_pericom", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "agpgart-intel": { name: "agpgart-intel", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "agpgart-sis": { name: "agpgart-sis", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "agpgart-via": { name: "agpgart-via", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  iosf_mbi_pci: { name: "iosf_mbi_pci", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  "xen-platform-pci": { name: "xen-platform-pci", matchesId: () => false, overrideOnly: false, probe: () => 0 },
  // drivers/uio/uio_pci_generic.c: no id_table ("only dynamic ids": new_id or driver_override);
  // probe refuses a function with an IRQ but no working Interrupt Disable (-ENODEV).
  uio_pci_generic: { name: "uio_pci_generic", matchesId: () => false, overrideOnly: false, probe: (fn) => UioPciGeneric.probe(fn) },
  // drivers/pci/pci-stub.c: override-only in practice (no ids unless given), driver_managed_dma set.
  "pci-stub": { name: "pci-stub", matchesId: () => false, overrideOnly: false, probe: () => 0 },
};

/**
 * Every host driver the emulator knows, by name. A machine loads some of them. Whether each
 * sets driver_managed_dma is read from api/driver-managed-dma.ts, the list host/ uses too.
 */
export const knownHostDrivers: Readonly<Record<string, HostDriver>> = Object.fromEntries(
  Object.entries(drivers).map(([key, entry]) => [key, { ...entry, driverManagedDma: DRIVER_MANAGED_DMA_LINUX_6_1.has(entry.name) }]),
);

/**
 * pci_match_device(): with driver_override set only the named driver matches (and always
 * does); otherwise the id_table, skipping override-only entries.
 */
export function driverMatches(driver: HostDriver, fn: PciFunction): boolean {
  if (fn.driverOverride !== undefined) return fn.driverOverride === driver.name;
  return !driver.overrideOnly && driver.matchesId(fn);
}
