/**
 * `diagnose()`: whether a device or an IOMMU group is ready for VFIO, as data. Every problem
 * is a {@link Finding} with what to do; cli/ renders them (zod's issues → prettifyError).
 */
import { VfioError, VfioUsageError } from "../api/errors.js";
import { noIommuText } from "../api/no-iommu.js";
import type { DevNode, HostEnvironment } from "../api/host-environment.js";
import type { Sysfs } from "../api/sysfs.js";
import { bindVfioPciAction, LIVE_FIX_CONTEXT, loadVfioPciAction, unbindAction, vfioCommand, type FixAction, type FixContext } from "./fix-action.js";
import { readIommuGroup, type IommuGroup } from "./iommu-groups.js";
import { readIommuStatus, type IommuStatus } from "./iommu-status.js";
import { hasDmaOwnership, hasResetMethodAttribute, parseKernelRelease, type KernelVersion } from "./kernel-release.js";
import { parseMemlockLimit, type MemlockLimit } from "./memlock-limit.js";
import { parsePciAddress, tryParsePciAddress, type PciAddress } from "../api/pci-address.js";
import { readPciDevice, type PciDevice } from "./pci-devices.js";
import { mayReadWrite, parseProcessIdentity, type ProcessIdentity } from "./process-identity.js";
import { groupViability, type Viability } from "./viability.js";

/** What `vfio check` was asked about. */
export type CheckTarget = { readonly kind: "device"; readonly address: PciAddress } | { readonly kind: "group"; readonly id: number };

/** The vfio-pci family: drivers whose devices VFIO hands out (vfio-pci and its variant drivers). */
export const VFIO_PCI_DRIVERS: ReadonlySet<string> = new Set(["vfio-pci", "mlx5_vfio_pci", "hisi_acc_vfio_pci"]);

/** Below this RLIMIT_MEMLOCK a non-root user is warned: 64 MiB is a small VFIO driver's DMA. */
export const MEMLOCK_WARN_BELOW = 64n * 1024n * 1024n;

/** A problem and its fix. `severity: "error"` makes the target not ready. */
export type Finding =
  | { readonly code: "iommu-inactive"; readonly severity: "error"; readonly reason: string }
  | { readonly code: "interrupt-remapping-off"; readonly severity: "error" | "warning"; readonly fix: string }
  | { readonly code: "interrupt-remapping-unknown"; readonly severity: "warning"; readonly fix: string }
  | { readonly code: "device-without-group"; readonly severity: "error"; readonly device: PciAddress; readonly fix: string }
  | {
      readonly code: "group-not-viable";
      readonly severity: "error";
      readonly group: number;
      readonly blockers: readonly { readonly device: string; readonly driver: string }[];
      /** Per blocker, the alternatives (unbind it, or bind it to vfio-pci): any one will do. */
      readonly fixes: readonly (readonly FixAction[])[];
    }
  | {
      readonly code: "not-bound-to-vfio";
      readonly severity: "error";
      readonly device: PciAddress;
      readonly driver: string | undefined;
      readonly actions: readonly FixAction[];
    }
  | { readonly code: "vfio-module-missing"; readonly severity: "error"; readonly actions: readonly FixAction[] }
  | { readonly code: "dev-vfio-missing"; readonly severity: "error"; readonly path: string; readonly fix: string }
  | {
      readonly code: "dev-vfio-denied";
      readonly severity: "error";
      readonly path: string;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      readonly fix: string;
    }
  | { readonly code: "kernel-before-dma-ownership"; readonly severity: "warning"; readonly release: string; readonly fix: string }
  | { readonly code: "memlock-low"; readonly severity: "warning"; readonly limit: bigint; readonly fix: string }
  | { readonly code: "group-open"; readonly severity: "error"; readonly group: number; readonly openers: readonly string[]; readonly fix: string }
  | { readonly code: "boot-vga"; readonly severity: "warning"; readonly device: PciAddress; readonly fix: string }
  | { readonly code: "no-reset"; readonly severity: "warning"; readonly device: PciAddress; readonly fix: string };

/** A group member as the report shows it. */
export interface CheckMember {
  readonly name: string;
  readonly driver: string | undefined;
  /** The PCI details, for PCI members. */
  readonly pci: PciDevice | undefined;
  /** True when its driver claims kernel DMA (it keeps the group from being viable). */
  readonly blocks: boolean;
  /** True for the device `vfio check` was asked about. */
  readonly isTarget: boolean;
}

/** Everything `vfio check` reports. */
export interface CheckReport {
  readonly target: CheckTarget;
  readonly iommu: IommuStatus;
  /** The kernel release (/proc/sys/kernel/osrelease), when known. */
  readonly kernelRelease: string | undefined;
  /** The group, or undefined when the device has none (no IOMMU). */
  readonly group: IommuGroup | undefined;
  readonly members: readonly CheckMember[];
  readonly viability: Viability | undefined;
  /** /dev/vfio/<group> and /dev/vfio/vfio as found; undefined where absent or unknown. */
  readonly devVfio: { readonly listed: boolean; readonly group: DevNode | undefined; readonly container: DevNode | undefined };
  readonly memlock: MemlockLimit | undefined;
  readonly identity: ProcessIdentity | undefined;
  readonly findings: readonly Finding[];
  /** True when there is no error finding: the group can be opened and the device used. */
  readonly ready: boolean;
}

/** Options of {@link diagnose}. */
export interface DiagnoseOptions {
  /** Where printed fixes are to act (default: this machine's /sys and `vfio` without options). */
  readonly fix?: FixContext;
  /** Who holds a path open ("pid (comm)"), for /dev/vfio/<group>; without it nobody is seen. */
  readonly openers?: (path: string) => Promise<readonly string[]>;
}

/**
 * The target of `vfio check <device|group>`: a PCI address (full or short) or a group number.
 * Rejects anything else with a VfioUsageError.
 */
export function parseCheckTarget(text: string): CheckTarget {
  if (/^\d+$/.test(text)) return { kind: "group", id: Number(text) };
  const address = tryParsePciAddress(text);
  if (address !== undefined) return { kind: "device", address };
  // Something address-like but wrong: say what an address looks like.
  if (/[:.]/.test(text)) return { kind: "device", address: parsePciAddress(text) };
  throw new VfioUsageError(
    `'${text}' is neither a PCI address nor an IOMMU group number: give e.g. 0000:01:00.0 or 5 (see 'vfio ls')`,
    "EINVAL",
  );
}

/**
 * How to stop `member` from claiming kernel DMA: unbind it or bind it to vfio-pci. The device
 * being checked must end up on vfio-pci anyway, so for it binding is the only fix.
 */
function fixesFor(member: { name: string; driver: string }, isTarget: boolean, context: FixContext): FixAction[] {
  const address = tryParsePciAddress(member.name);
  if (address === undefined) return [];
  const bind = bindVfioPciAction(address, member.driver, context);
  return isTarget ? [bind] : [unbindAction(address, member.driver, context), bind];
}

/**
 * Checks `target` on `env` and returns the report. Rejects with a VfioUsageError (code ENOENT)
 * when the device or group does not exist.
 *
 * @example
 * const report = await diagnose(nodeHostEnvironment(), { kind: "device", address: parsePciAddress("01:01.0") });
 * report.ready; // false
 * report.findings.map((f) => f.code); // ["group-not-viable", ...]
 */
export async function diagnose(env: HostEnvironment, target: CheckTarget, options: DiagnoseOptions = {}): Promise<CheckReport> {
  const { sysfs } = env;
  const context = options.fix ?? LIVE_FIX_CONTEXT;
  const iommu = await readIommuStatus(env);

  let targetDevice: PciDevice | undefined;
  let groupId: number | undefined;
  if (target.kind === "device") {
    targetDevice = await readPciDevice(sysfs, target.address);
    if (targetDevice === undefined) {
      throw new VfioUsageError(`no PCI device ${target.address} in ${sysfs.description}: run '${vfioCommand(context, "ls")}' to see the devices`, "ENOENT");
    }
    groupId = targetDevice.iommuGroup;
  } else {
    groupId = target.id;
  }
  const group = groupId === undefined ? undefined : await readIommuGroup(sysfs, groupId);
  if (target.kind === "group" && group === undefined) {
    // No IOMMU is the machine's state (exit 1, api/no-iommu.ts); a wrong number is the user's slip.
    if (!iommu.active) throw new VfioError(`no IOMMU group ${target.id} in ${sysfs.description}: ${noIommuText(iommu.inactiveReason)}`, "ENODEV");
    throw new VfioUsageError(`no IOMMU group ${target.id} in ${sysfs.description}: run '${vfioCommand(context, "ls")}' to see the groups`, "ENOENT");
  }

  const osrelease = await env.readProc("sys/kernel/osrelease");
  const kernel = osrelease === undefined ? undefined : parseKernelRelease(osrelease);
  const viability = group === undefined ? undefined : groupViability(group);
  const members = await checkMembers(sysfs, group, viability, targetDevice, kernel);
  const identityText = await env.readProc("self/status");
  const identity = identityText === undefined ? undefined : parseProcessIdentity(identityText);
  const nodes = await env.listDevVfio();
  const groupNode = groupId === undefined ? undefined : nodes?.find((n) => n.name === String(groupId));
  const containerNode = nodes?.find((n) => n.name === "vfio");
  const limitsText = await env.readProc("self/limits");
  const memlock = limitsText === undefined ? undefined : parseMemlockLimit(limitsText);
  const vfioLoaded = (await sysfs.list("bus/pci/drivers/vfio-pci")) !== undefined;
  // A group's file can be open once (vfio_group_fops_open(): EBUSY, drivers/vfio/vfio_main.c, Linux 6.1).
  const openers = groupId === undefined || options.openers === undefined ? [] : await options.openers(`/dev/vfio/${groupId}`);

  const findings: Finding[] = [
    ...iommuFindings(iommu, targetDevice, group),
    ...kernelFindings(kernel),
    ...viabilityFindings(group, viability, targetDevice, context),
    ...bindingFindings(target, members, iommu.active, vfioLoaded, context),
    ...(group === undefined || openers.length === 0 ? [] : [{
      code: "group-open" as const, severity: "error" as const, group: group.id, openers,
      fix: "a VFIO user (a VM, a driver) has the group: it can be opened once, so nobody else gets it until that process closes it",
    }]),
    ...devVfioFindings(group, members, nodes, groupNode, containerNode, identity),
    ...memlockFindings(memlock, identity),
    ...deviceWarnings(target, members),
  ];
  return {
    target,
    iommu,
    kernelRelease: kernel?.release,
    group,
    members,
    viability,
    devVfio: { listed: nodes !== undefined, group: groupNode, container: containerNode },
    memlock,
    identity,
    findings,
    ready: !findings.some((f) => f.severity === "error"),
  };
}

/** The group's members with their PCI details, or the lone device when it has no group. */
async function checkMembers(
  sysfs: Sysfs, group: IommuGroup | undefined, viability: Viability | undefined, targetDevice: PciDevice | undefined, kernel: KernelVersion | undefined,
): Promise<CheckMember[]> {
  // Linux 5.15+ shows reset_method only for a device that has one (pci_dev_reset_method_attr_is_visible(),
  // drivers/pci/pci.c): where the kernel has the attribute, its absence means "none".
  const withReset = (device: PciDevice | undefined): PciDevice | undefined =>
    device === undefined || device.resetMethods !== undefined || kernel === undefined || !hasResetMethodAttribute(kernel) ? device : { ...device, resetMethods: [] };
  if (group === undefined) {
    const pci = withReset(targetDevice);
    return pci === undefined ? [] : [{ name: pci.address, driver: pci.driver, pci, blocks: false, isTarget: true }];
  }
  return Promise.all(
    group.members.map(async (m) => {
      const address = tryParsePciAddress(m.name);
      return {
        name: m.name,
        driver: m.driver,
        pci: address === undefined ? undefined : withReset(await readPciDevice(sysfs, address)),
        blocks: viability?.blockers.includes(m) ?? false,
        isTarget: targetDevice?.address === m.name,
      };
    }),
  );
}

/** IOMMU off, a device outside every group, interrupt remapping. */
function iommuFindings(iommu: IommuStatus, targetDevice: PciDevice | undefined, group: IommuGroup | undefined): Finding[] {
  if (!iommu.active) return [{ code: "iommu-inactive", severity: "error", reason: iommu.inactiveReason ?? "no IOMMU groups" }];
  const findings: Finding[] = [];
  if (targetDevice !== undefined && group === undefined) {
    findings.push({
      code: "device-without-group",
      severity: "error",
      device: targetDevice.address,
      fix: "the IOMMU does not translate for this device (it has no iommu_group): check the firmware's DMAR/IVRS scope",
    });
  }
  // vfio_iommu_type1_attach_group() refuses a group without MSI isolation (EPERM) unless
  // allow_unsafe_interrupts is set (drivers/vfio/vfio_iommu_type1.c, Linux 6.1).
  if (iommu.interruptRemapping === "disabled") {
    const allowed = iommu.allowUnsafeInterrupts === true;
    findings.push({
      code: "interrupt-remapping-off",
      severity: allowed ? "warning" : "error",
      fix: allowed
        ? "vfio_iommu_type1 allow_unsafe_interrupts=1 accepts this, but a device can then forge interrupts: enable interrupt remapping instead"
        : "enable interrupt remapping (firmware VT-d/AMD-Vi with x2APIC; do not boot with intremap=off); VFIO refuses the group (EPERM) without it",
    });
  } else if (iommu.interruptRemapping === "unknown") {
    findings.push({
      code: "interrupt-remapping-unknown",
      severity: "warning",
      fix: "could not read /proc/interrupts; IR-PCI-MSI chips there mean interrupts are remapped",
    });
  }
  return findings;
}

/** The viability rule here is 5.19+'s: say so on an older kernel. */
function kernelFindings(kernel: KernelVersion | undefined): Finding[] {
  if (kernel === undefined || hasDmaOwnership(kernel)) return [];
  return [{
    code: "kernel-before-dma-ownership",
    severity: "warning",
    release: kernel.release,
    fix: "this verdict follows Linux 5.19+ (DMA ownership); before 5.19 VFIO accepted members that are unbound, bound to a vfio driver or pci-stub, or bridges bound to any driver: the kernel's VFIO_GROUP_GET_STATUS has the last word",
  }];
}

/** A group that is not viable, with per blocker the ways out. */
function viabilityFindings(group: IommuGroup | undefined, viability: Viability | undefined, targetDevice: PciDevice | undefined, context: FixContext): Finding[] {
  if (group === undefined || viability === undefined || viability.viable) return [];
  const blockers = viability.blockers.map((b) => ({ device: b.name, driver: b.driver ?? "" }));
  const fixes = blockers.map((b) => fixesFor({ name: b.device, driver: b.driver }, b.device === targetDevice?.address, context));
  return [{ code: "group-not-viable", severity: "error", group: group.id, blockers, fixes }];
}

/**
 * The device(s) VFIO is to hand out must be bound to vfio-pci: the target device, or for a
 * group target at least one member (else /dev/vfio/<group> does not exist).
 */
function bindingFindings(target: CheckTarget, members: readonly CheckMember[], iommuActive: boolean, vfioLoaded: boolean, context: FixContext): Finding[] {
  // Without an IOMMU vfio-pci cannot take a device (it has no group): binding is not the fix yet.
  if (!iommuActive) return [];
  const onVfio = (m: CheckMember) => m.driver !== undefined && VFIO_PCI_DRIVERS.has(m.driver);
  const wanted = target.kind === "device"
    ? members.filter((m) => m.isTarget)
    : members.some(onVfio)
      ? []
      : members.filter((m) => m.pci !== undefined && !isBridge(m.pci));
  const toBind = wanted.filter((m) => !onVfio(m));
  const findings: Finding[] = [];
  if (toBind.length > 0 && !vfioLoaded) findings.push({ code: "vfio-module-missing", severity: "error", actions: [loadVfioPciAction(context)] });
  for (const m of toBind) {
    // A blocker's fix is already in group-not-viable (for the target: bind it to vfio-pci).
    if (m.blocks) continue;
    const address = tryParsePciAddress(m.name);
    if (address === undefined) continue;
    findings.push({ code: "not-bound-to-vfio", severity: "error", device: address, driver: m.driver, actions: [bindVfioPciAction(address, m.driver, context)] });
  }
  return findings;
}

/** /dev/vfio/<group> exists once a member is bound to vfio-pci; the user must be able to open it. */
function devVfioFindings(
  group: IommuGroup | undefined,
  members: readonly CheckMember[],
  nodes: readonly DevNode[] | undefined,
  groupNode: DevNode | undefined,
  containerNode: DevNode | undefined,
  identity: ProcessIdentity | undefined,
): Finding[] {
  const findings: Finding[] = [];
  const anyBound = members.some((m) => m.driver !== undefined && VFIO_PCI_DRIVERS.has(m.driver));
  if (nodes !== undefined && group !== undefined && anyBound && groupNode === undefined) {
    findings.push({
      code: "dev-vfio-missing",
      severity: "error",
      path: `/dev/vfio/${group.id}`,
      fix: "a member is bound to vfio-pci but the group node is missing: check that devtmpfs is mounted on /dev and udev is running",
    });
  }
  if (identity === undefined) return findings;
  const candidates: [DevNode | undefined, string][] = [[groupNode, `/dev/vfio/${group?.id}`], [containerNode, "/dev/vfio/vfio"]];
  for (const [node, path] of candidates) {
    if (node === undefined || mayReadWrite(identity, node)) continue;
    findings.push({
      code: "dev-vfio-denied",
      severity: "error",
      path,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      fix: `uid ${identity.uid} cannot open ${path} for reading and writing: run as root, or give the user access (chown ${identity.uid} ${path}, or a udev rule for the vfio group)`,
    });
  }
  return findings;
}

/** RLIMIT_MEMLOCK: type1 charges pinned pages to it unless CAP_IPC_LOCK (root has it). */
function memlockFindings(memlock: MemlockLimit | undefined, identity: ProcessIdentity | undefined): Finding[] {
  if (memlock?.soft === undefined || memlock.soft >= MEMLOCK_WARN_BELOW || identity === undefined || identity.uid === 0) return [];
  return [{
    code: "memlock-low",
    severity: "warning",
    limit: memlock.soft,
    fix: "VFIO pins every page it maps for DMA and charges it to RLIMIT_MEMLOCK; mappings past it fail with ENOMEM: raise it (ulimit -l, /etc/security/limits.conf) or run with CAP_IPC_LOCK",
  }];
}

/** Hazards of handing out a device: the boot display, a device that cannot be reset. */
function deviceWarnings(target: CheckTarget, members: readonly CheckMember[]): Finding[] {
  const findings: Finding[] = [];
  for (const m of members) {
    if (!m.isTarget && target.kind === "device") continue;
    if (m.pci?.bootVga === true) {
      findings.push({ code: "boot-vga", severity: "warning", device: m.pci.address, fix: "this is the boot display: binding it to vfio-pci takes the console away; use another GPU for the host" });
    }
    if (m.pci?.resetMethods !== undefined && m.pci.resetMethods.length === 0 && !isBridge(m.pci)) {
      findings.push({ code: "no-reset", severity: "warning", device: m.pci.address, fix: "the kernel knows no way to reset this device (it shows no reset_method): state may leak from one user to the next, and QEMU warns it cannot reset it" });
    }
  }
  return findings;
}

/** PCI-to-PCI bridges (class 0x0604) and CardBus bridges (0x0607) are not handed out. */
function isBridge(device: PciDevice): boolean {
  const cls = device.classCode >> 8;
  return cls === 0x0604 || cls === 0x0607;
}
