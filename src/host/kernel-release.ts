/**
 * The running kernel's release (/proc/sys/kernel/osrelease, "6.1.0-56-amd64"): which VFIO
 * rules apply depends on it.
 */

/** Major and minor version of a release string. */
export interface KernelVersion {
  readonly release: string;
  readonly major: number;
  readonly minor: number;
}

/**
 * Parses "6.1.0-56-amd64" or "5.15.0"; undefined when it does not start with a version.
 *
 * @example
 * parseKernelRelease("6.1.0-56-amd64"); // { release: "6.1.0-56-amd64", major: 6, minor: 1 }
 */
export function parseKernelRelease(text: string): KernelVersion | undefined {
  const release = text.trim();
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return undefined;
  return { release, major: Number(match[1]), minor: Number(match[2]) };
}

/**
 * True from Linux 5.19, where group viability became "no member's driver claims kernel DMA"
 * (driver_managed_dma, commit "vfio: Set DMA ownership for VFIO devices"). Earlier kernels
 * allowed only pci-stub and non-normal-header (bridge) devices besides vfio drivers.
 */
export function hasDmaOwnership(version: KernelVersion): boolean {
  return version.major > 5 || (version.major === 5 && version.minor >= 19);
}

/**
 * True from Linux 5.15, which added the PCI `reset_method` attribute ("PCI: Allow userspace
 * to query and set device reset mechanism", drivers/pci/pci.c) and shows it only for a device
 * that can be reset.
 */
export function hasResetMethodAttribute(version: KernelVersion): boolean {
  return version.major > 5 || (version.major === 5 && version.minor >= 15);
}
