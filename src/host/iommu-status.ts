/**
 * Whether this machine has an IOMMU, whether the kernel runs it, and whether interrupts are
 * remapped, from what sysfs and procfs show.
 */
import type { HostEnvironment } from "../api/host-environment.js";
import type { Sysfs } from "../api/sysfs.js";
import { NOIOMMU_GROUP_NAME } from "./iommu-groups.js";
import { parseIommuCommandLine, type IommuCommandLine } from "./kernel-command-line.js";

/** One IOMMU hardware unit the kernel registered (/sys/class/iommu/<name>). */
export interface IommuUnit {
  /** "dmar0" (Intel VT-d), "ivhd0" (AMD-Vi), or another driver's name. */
  readonly name: string;
  readonly vendor: "intel" | "amd" | "other";
  /**
   * Whether the hardware can remap interrupts: VT-d ECAP.IR, bit 3 of the Extended Capability
   * Register (Intel VT-d spec §11.4.3), exported as intel-iommu/ecap. Undefined when unknown.
   */
  readonly interruptRemappingCapable: boolean | undefined;
}

/** Interrupt remapping as far as it can be known without root. */
export type InterruptRemapping =
  /** /proc/interrupts shows IR-* chips (IR-PCI-MSI, IR-IO-APIC): the kernel remaps. */
  | "enabled"
  /** The IOMMU is on but no interrupt chip is remapped, or intremap=off was given. */
  | "disabled"
  /** Nothing here tells (no /proc/interrupts, e.g. a sysfs-only tree). */
  | "unknown";

/** The machine's IOMMU state. */
export interface IommuStatus {
  /**
   * True when the kernel runs an IOMMU: IOMMU groups exist (the kernel makes them only then),
   * other than VFIO's no-IOMMU groups.
   */
  readonly active: boolean;
  readonly units: readonly IommuUnit[];
  /** IOMMU groups, no-IOMMU ones included. */
  readonly groupCount: number;
  /** Groups VFIO made in no-IOMMU mode (enable_unsafe_noiommu_mode): no DMA isolation. */
  readonly noIommuGroupCount: number;
  /** ACPI tables present: DMAR describes Intel VT-d units, IVRS AMD-Vi units. */
  readonly acpi: { readonly dmar: boolean; readonly ivrs: boolean };
  /** The IOMMU parameters of /proc/cmdline, or undefined when it could not be read. */
  readonly commandLine: IommuCommandLine | undefined;
  readonly interruptRemapping: InterruptRemapping;
  /**
   * vfio_iommu_type1's allow_unsafe_interrupts parameter: when true, VFIO accepts groups
   * without interrupt remapping (vfio_iommu_type1_attach_group()). Undefined when the module
   * is not loaded.
   */
  readonly allowUnsafeInterrupts: boolean | undefined;
  /** Why the IOMMU is not active, and what to do; undefined when it is. */
  readonly inactiveReason: string | undefined;
}

const ECAP_IR = 1n << 3n;

async function readUnit(sysfs: Sysfs, name: string): Promise<IommuUnit> {
  const ecap = await sysfs.read(`class/iommu/${name}/intel-iommu/ecap`);
  if (ecap !== undefined) {
    const trimmed = ecap.trim();
    const value = /^(0x)?[0-9a-fA-F]+$/.test(trimmed) ? BigInt(trimmed.startsWith("0x") ? trimmed : `0x${trimmed}`) : undefined;
    return { name, vendor: "intel", interruptRemappingCapable: value === undefined ? undefined : (value & ECAP_IR) !== 0n };
  }
  if ((await sysfs.list(`class/iommu/${name}/amd-iommu`)) !== undefined || name.startsWith("ivhd")) {
    return { name, vendor: "amd", interruptRemappingCapable: undefined };
  }
  return { name, vendor: name.startsWith("dmar") ? "intel" : "other", interruptRemappingCapable: undefined };
}

/** "IR-PCI-MSI", "IR-IO-APIC": chip names of remapped interrupts (kernel/irq/irqdomain names). */
function interruptChips(interrupts: string): { remapped: boolean; any: boolean } {
  let remapped = false;
  let any = false;
  for (const line of interrupts.split("\n")) {
    if (!/^\s*\d+:/.test(line)) continue; // numbered lines only: the named ones (NMI, LOC) are per-CPU
    any = true;
    if (/\sIR-[A-Z]/.test(line)) remapped = true;
  }
  return { remapped, any };
}

function includesAny(values: readonly string[] | undefined, wanted: readonly string[]): string | undefined {
  return values?.find((v) => wanted.includes(v));
}

function whyInactive(acpi: IommuStatus["acpi"], cmd: IommuCommandLine | undefined): string {
  const off = includesAny(cmd?.intelIommu, ["off"]) !== undefined ? "intel_iommu=off"
    : includesAny(cmd?.amdIommu, ["off"]) !== undefined ? "amd_iommu=off"
    : includesAny(cmd?.iommu, ["off"]) !== undefined ? "iommu=off" : undefined;
  if (off !== undefined) return `the kernel command line turns the IOMMU off (${off}): remove it and reboot`;
  if (!acpi.dmar && !acpi.ivrs) {
    return "the firmware describes no IOMMU (no DMAR or IVRS ACPI table): enable VT-d or AMD-Vi (IOMMU) in the firmware setup; a VM needs a virtual IOMMU (QEMU: -device intel-iommu)";
  }
  if (acpi.dmar && includesAny(cmd?.intelIommu, ["on"]) === undefined) {
    return "the firmware has a DMAR table but the kernel did not enable VT-d: boot with intel_iommu=on";
  }
  return "the firmware describes an IOMMU but the kernel registered none: check that the kernel has IOMMU support (CONFIG_INTEL_IOMMU / CONFIG_AMD_IOMMU) and its boot log";
}

/**
 * Reads the IOMMU state of `env`.
 *
 * @example
 * const status = await readIommuStatus(nodeHostEnvironment());
 * if (!status.active) console.log(status.inactiveReason);
 */
export async function readIommuStatus(env: HostEnvironment): Promise<IommuStatus> {
  const { sysfs } = env;
  const unitNames = (await sysfs.list("class/iommu")) ?? [];
  const units: IommuUnit[] = [];
  for (const name of unitNames) units.push(await readUnit(sysfs, name));
  const groupNames = (await sysfs.list("kernel/iommu_groups")) ?? [];
  const groupCount = groupNames.length;
  let noIommuGroupCount = 0;
  for (const g of groupNames) {
    if ((await sysfs.read(`kernel/iommu_groups/${g}/name`))?.trim() === NOIOMMU_GROUP_NAME) noIommuGroupCount++;
  }
  const tables = new Set((await sysfs.list("firmware/acpi/tables")) ?? []);
  const acpi = { dmar: tables.has("DMAR"), ivrs: tables.has("IVRS") };
  const cmdlineText = await env.readProc("cmdline");
  const commandLine = cmdlineText === undefined ? undefined : parseIommuCommandLine(cmdlineText.replace(/\0/g, " "));
  const active = groupCount - noIommuGroupCount > 0;

  let interruptRemapping: InterruptRemapping = "unknown";
  const interrupts = await env.readProc("interrupts");
  if (interrupts !== undefined) {
    const chips = interruptChips(interrupts);
    if (chips.remapped) interruptRemapping = "enabled";
    else if (chips.any) interruptRemapping = "disabled";
  } else if (includesAny(commandLine?.intremap, ["off"]) !== undefined) {
    interruptRemapping = "disabled";
  }

  const unsafe = await sysfs.read("module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
  return {
    active,
    units,
    groupCount,
    noIommuGroupCount,
    acpi,
    commandLine,
    interruptRemapping,
    allowUnsafeInterrupts: unsafe === undefined ? undefined : /^[Y1]/.test(unsafe.trim()),
    inactiveReason: active
      ? undefined
      : `${whyInactive(acpi, commandLine)}${noIommuGroupCount > 0 ? ` (the ${noIommuGroupCount} VFIO no-IOMMU group${noIommuGroupCount === 1 ? "" : "s"} isolate nothing)` : ""}`,
  };
}
