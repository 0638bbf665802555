/**
 * The unsafe ways, as sysfs shows them: devices bound to uio_pci_generic (with their
 * /sys/bus/pci/devices/X/uio/uioN, drivers/uio/uio.c) and VFIO's no-IOMMU mode (the vfio
 * module's enable_unsafe_noiommu_mode parameter, present only in kernels built with
 * CONFIG_VFIO_NOIOMMU: drivers/vfio/vfio_main.c, Linux 6.1). `vfio ls` and `vfio check` say
 * what each means: no IOMMU stands between the device and memory.
 */
import type { Sysfs } from "../api/sysfs.js";

export const UIO_PCI_GENERIC = "uio_pci_generic";

/** A device on uio_pci_generic and its UIO node. */
export interface UioBinding {
  readonly device: string;
  /** N of /dev/uioN, or undefined when sysfs shows none (the uio core did not register it). */
  readonly uio: number | undefined;
}

/** The devices among `devices` (address, driver) that are bound to uio_pci_generic. */
export async function uioBindings(sysfs: Sysfs, devices: readonly { readonly address: string; readonly driver?: string | null | undefined }[]): Promise<UioBinding[]> {
  const out: UioBinding[] = [];
  for (const d of devices) {
    if (d.driver !== UIO_PCI_GENERIC) continue;
    const entries = await sysfs.list(`bus/pci/devices/${d.address}/uio`);
    const node = entries?.find((e) => /^uio\d+$/.test(e));
    out.push({ device: d.address, uio: node === undefined ? undefined : Number(node.slice(3)) });
  }
  return out;
}

/** One line on what a UIO binding means. */
export function describeUioBinding(b: UioBinding): string {
  const node = b.uio === undefined ? "no /dev/uioN" : `/dev/uio${b.uio}`;
  return `${b.device} is on ${UIO_PCI_GENERIC} (${node}): a process drives it with no IOMMU protection, so the device can write anywhere in memory; its group is not viable for VFIO ('vfio restore' or 'vfio bind ${b.device}' moves it back)`;
}

/** VFIO's no-IOMMU mode: "absent" (kernel built without CONFIG_VFIO_NOIOMMU), "off", or "on". */
export type NoIommuMode = "absent" | "off" | "on";

export async function readNoIommuMode(sysfs: Sysfs): Promise<NoIommuMode> {
  const value = (await sysfs.read("module/vfio/parameters/enable_unsafe_noiommu_mode"))?.trim();
  if (value === undefined) return "absent";
  return value === "Y" || value === "1" ? "on" : "off";
}

/** One line on the no-IOMMU mode, for a machine without an active IOMMU. */
export function describeNoIommuMode(mode: NoIommuMode): string {
  switch (mode) {
    case "absent":
      return "VFIO no-IOMMU mode: not in this kernel (CONFIG_VFIO_NOIOMMU off); without an IOMMU only UIO (vfio bind --driver uio_pci_generic --unsafe-no-iommu) remains, and it is unsafe";
    case "off":
      return "VFIO no-IOMMU mode: available, off (echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode enables /dev/vfio/noiommu-N: VFIO's API with no DMA protection, tainting the kernel)";
    case "on":
      return "VFIO no-IOMMU mode: ON: devices bound to vfio-pci without an IOMMU appear as /dev/vfio/noiommu-N; their DMA is not protected (vfio-ts opens them only with --unsafe-no-iommu)";
  }
}
