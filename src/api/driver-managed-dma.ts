/**
 * Which host drivers leave an IOMMU group viable for VFIO, as Linux 6.1 decides it.
 *
 * A driver bound to a group member raises the group's DMA owner count unless it sets
 * `driver_managed_dma` (drivers/pci/pci-driver.c pci_dma_configure():
 * `if (!ret && !driver->driver_managed_dma) ret = iommu_device_use_default_domain(dev);`), and
 * VFIO_GROUP_GET_STATUS reports VIABLE only while no member's driver claimed kernel DMA
 * (drivers/vfio/vfio_main.c, 6.1). The one list for every backend: host/ reads it for sysfs
 * verdicts, emu/ for its emulated drivers and VFIO_GROUP_SET_CONTAINER.
 */

/**
 * The PCI drivers that set `driver_managed_dma = true` in Linux 6.1, by their sysfs name:
 * drivers/vfio/pci/vfio_pci.c ("vfio-pci"), drivers/pci/pci-stub.c ("pci-stub"),
 * drivers/pci/pcie/portdrv_pci.c ("pcieport"), and the vfio-pci variant drivers
 * drivers/vfio/pci/mlx5/main.c and drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.c
 * (named KBUILD_MODNAME, which the kernel spells with underscores).
 */
export const DRIVER_MANAGED_DMA_LINUX_6_1: ReadonlySet<string> = new Set([
  "vfio-pci",
  "pci-stub",
  "pcieport",
  "mlx5_vfio_pci",
  "hisi_acc_vfio_pci",
]);

/**
 * True when a device bound to `driver` keeps its group from being viable (no driver: false).
 *
 * @example
 * driverClaimsKernelDma("nvme"); // true
 * driverClaimsKernelDma("vfio-pci"); // false
 */
export function driverClaimsKernelDma(driver: string | undefined, managed: ReadonlySet<string> = DRIVER_MANAGED_DMA_LINUX_6_1): boolean {
  return driver !== undefined && !managed.has(driver);
}
