/**
 * The kernel backend's own view of /sys, for the facts its error explanations need (the devices
 * of a group and their drivers, whether any IOMMU is present). host/ has the full-featured
 * reader; kernel/ may not import host/ (layer rules), so this is the minimum, and any api Sysfs
 * (host's, or a fixture) can be passed to KernelSystem instead.
 */
export { directorySysfs } from "../native/directory-sysfs.js";
