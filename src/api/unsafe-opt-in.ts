/**
 * The explicit opt-in every unsafe path demands: UIO, the plain userspace driver and VFIO's
 * no-IOMMU mode give a process a device with no IOMMU between it and memory, so a device told
 * (by a bug, a hostile peer, or firmware) to DMA to any address writes there, kernel memory
 * included. VFIO exists because of this (Documentation/driver-api/vfio.rst). Nothing here
 * happens by default.
 */
import { VfioUsageError } from "./errors.js";

/** What a caller passes to say it knows. */
export interface UnsafeOptIn {
  /** Must be exactly `true`: the device can read and write all of memory. */
  readonly unsafeNoIommu?: boolean;
}

/** The one line every path that uses the opt-in shows its user. */
export const UNSAFE_NO_IOMMU_WARNING =
  "warning: no IOMMU protects this device: it can read and write anywhere in memory (kernel memory included)";

/** Throws EUNSAFE unless `options.unsafeNoIommu === true`. */
export function requireUnsafeOptIn(options: UnsafeOptIn | undefined, what: string): void {
  if (options?.unsafeNoIommu === true) return;
  throw new VfioUsageError(
    `${what} gives the device access to all of memory with no IOMMU: pass { unsafeNoIommu: true } (CLI: --unsafe-no-iommu) to say you accept that, or use VFIO with an IOMMU`,
    "EUNSAFE",
  );
}
