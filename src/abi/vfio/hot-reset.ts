/**
 * PCI hot reset, include/uapi/linux/vfio.h (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
 * VFIO_DEVICE_PCI_HOT_RESET). Both carry a flexible array after the fixed part.
 */
import { struct, u8, u16, u32, type Infer } from "../struct.js";

/** `struct vfio_pci_dependent_device`: 8 bytes; devfn packs PCI_SLOT/PCI_FUNC. */
export const pciDependentDeviceLayout = struct("vfio_pci_dependent_device", {
  groupId: u32,
  segment: u16,
  bus: u8,
  devfn: u8,
});
export type PciDependentDeviceWire = Infer<typeof pciDependentDeviceLayout>;

/** `struct vfio_pci_hot_reset_info` without `devices[]`: 12 bytes. ENOSPC when `count` does not fit. */
export const pciHotResetInfoLayout = struct("vfio_pci_hot_reset_info", { argsz: u32, flags: u32, count: u32 });
export type PciHotResetInfoWire = Infer<typeof pciHotResetInfoLayout>;

/** `struct vfio_pci_hot_reset` without `__s32 group_fds[]`: 12 bytes. */
export const pciHotResetLayout = struct("vfio_pci_hot_reset", { argsz: u32, flags: u32, count: u32 });
export type PciHotResetWire = Infer<typeof pciHotResetLayout>;
