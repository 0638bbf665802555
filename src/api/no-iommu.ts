/**
 * The one wording, and the one error, for a machine on which VFIO cannot work because no IOMMU
 * is active: every layer that meets it (opening a device, binding, passthrough, the kernel
 * backend's ENOENT on /dev/vfio) says the same, and the CLI exits 1 for it, as for any failed
 * operation: it is the machine's state, not a mistake in the command.
 */
import { VfioError } from "./errors.js";
import type { Sysfs } from "./sysfs.js";

/** What to do, in one line. `vfio check` tells which of the steps is missing on this machine. */
export const NO_IOMMU_ADVICE =
  "enable VT-d (Intel) or AMD-Vi (AMD) in the firmware setup and boot with intel_iommu=on or amd_iommu=on " +
  "(a VM needs a virtual IOMMU: QEMU -device intel-iommu); 'vfio check' says which step is missing";

/** "no IOMMU is active: <what to do>", with the cause in place of the advice where it is known. */
export function noIommuText(reason: string = NO_IOMMU_ADVICE): string {
  return `no IOMMU is active: ${reason}`;
}

/** Whether any IOMMU group exists: /sys/kernel/iommu_groups lists one per group (drivers/iommu/iommu.c). */
export async function anyIommuGroup(sysfs: Sysfs): Promise<boolean> {
  const groups = await sysfs.list("kernel/iommu_groups");
  return groups !== undefined && groups.length > 0;
}

/**
 * The error for a PCI device without an iommu_group link: no IOMMU is active (code ENODEV), or
 * one is but does not cover the device (the firmware's DMAR/IVRS scope leaves it out).
 */
export async function noIommuGroupError(sysfs: Sysfs, device: string): Promise<VfioError> {
  return new VfioError(
    (await anyIommuGroup(sysfs))
      ? `${device} has no IOMMU group: the active IOMMU does not cover it (the firmware's DMAR or IVRS device scope leaves it out)`
      : `${device} has no IOMMU group: ${noIommuText()}`,
    "ENODEV",
  );
}
