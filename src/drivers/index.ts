/**
 * vfio-ts drivers: userspace drivers written only against api/ (VfioDevice, DmaSpace,
 * EventNotifier), so each runs on the kernel backend, the emulated machine and vfio-user.
 */
export * from "./bar-access.js";
export * from "./edu.js";
export * from "./nvme/index.js";
