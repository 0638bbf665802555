/**
 * vfio-ts emu: the emulated machine. A PCI topology with an IOMMU, IOMMU groups formed by
 * Linux's rules, host drivers, a rendered sysfs, VFIO's kernel side (container, group, device,
 * type1) with Linux 6.1's errnos, and device models whose DMA goes only through the IOMMU.
 * Imports api/, abi/ and devices/ only; loads no native code.
 */
export { EmulatedSystem } from "./system.js";
export { Machine, type MachineSpec, type IommuSpec, type DmaFault } from "./machine.js";
export { defaultMachineSpec } from "./default-machine.js";
export type { FunctionSpec } from "./pci/topology.js";
export type { FunctionKind } from "./pci/function.js";
export { InertModel } from "./pci/inert-model.js";
export { InProcessNotifier } from "./notifier.js";
export { emulatedHostEnvironment } from "./host-environment.js";
export { EmulatedUioSystem, type EmulatedUioOptions } from "./uio/system.js";
