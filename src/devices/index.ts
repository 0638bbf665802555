/**
 * vfio-ts devices: PCI device models written against api/'s hosting interface (DeviceModel,
 * DeviceHost), and the config space every host builds for them. May import api/ and abi/ only;
 * hosted by emu/ (behind its IOMMU) and user/ (the vfio-user server).
 */
export * from "./pci/msix-capability.js";
export * from "./pci/bar.js";
export * from "./pci/msi-capability.js";
export * from "./pci/config-space.js";
export * from "./edu.js";
export * from "./pci/bar-routing.js";
export * from "./nvme/index.js";
