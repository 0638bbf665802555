/**
 * The IOMMU-related parameters of the kernel command line
 * (Documentation/admin-guide/kernel-parameters.txt: intel_iommu=, amd_iommu=, iommu=, intremap=).
 */

/** The parameters that decide whether the IOMMU and interrupt remapping are on. */
export interface IommuCommandLine {
  /** `intel_iommu=` options ("on", "off", "sm_on", ...), or undefined when not given. */
  readonly intelIommu: readonly string[] | undefined;
  /** `amd_iommu=` options ("off", "force_isolation", ...). */
  readonly amdIommu: readonly string[] | undefined;
  /** `iommu=` options ("pt", "off", "nopt", ...). */
  readonly iommu: readonly string[] | undefined;
  /** `intremap=` options ("off", "nosid", "no_x2apic_optout", ...). */
  readonly intremap: readonly string[] | undefined;
}

/**
 * Parses /proc/cmdline. The last occurrence of a parameter wins, as with the kernel's
 * early_param handlers run in order. Arguments after "--" go to init and are ignored.
 *
 * @example
 * parseIommuCommandLine("console=ttyS0 intel_iommu=on iommu=pt").intelIommu; // ["on"]
 */
export function parseIommuCommandLine(cmdline: string): IommuCommandLine {
  const values = new Map<string, readonly string[]>();
  for (const token of cmdline.trim().split(/\s+/)) {
    if (token === "--") break;
    const eq = token.indexOf("=");
    if (eq < 0) continue;
    const key = token.slice(0, eq);
    if (key === "intel_iommu" || key === "amd_iommu" || key === "iommu" || key === "intremap") {
      values.set(key, token.slice(eq + 1).split(",").filter((v) => v !== ""));
    }
  }
  return {
    intelIommu: values.get("intel_iommu"),
    amdIommu: values.get("amd_iommu"),
    iommu: values.get("iommu"),
    intremap: values.get("intremap"),
  };
}
