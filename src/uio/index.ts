/**
 * vfio-ts uio: the unsafe ways, behind an explicit opt-in. UIO (uio_pci_generic: BARs by mmap
 * of sysfs resourceN, config through sysfs, INTx through /dev/uioN, DMA at physical addresses
 * from /proc/self/pagemap) and the plain userspace driver (registers only, interrupts by
 * polling, no DMA), both as api/ VfioDevice and DmaSpace so VFIO drivers run on them
 * unchanged. Neither has an IOMMU: the device can reach all of memory. Imports api/, abi/, native/.
 */
export { openUioDevice, uioNumberOf, UIO_DRIVER, type OpenUioOptions, type OpenedUioDevice } from "./open.js";
export { UioDevice, type UioMode, type UioMapOptions } from "./device.js";
export { UioDmaSpace, UioDmaBuffer, NoDmaSpace, type UioDmaSpaceOptions } from "./dma-space.js";
export { requireUnsafeOptIn, UNSAFE_NO_IOMMU_WARNING, type UnsafeOptIn } from "./opt-in.js";
export { LinuxUioSystem, type LinuxUioSystemOptions } from "./linux-system.js";
export { parseResources, type PciResourceLine } from "./resources.js";
export { physicalAddresses, contiguous } from "./pagemap.js";
