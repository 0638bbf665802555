/**
 * What to give QEMU or libvirt to pass devices through, after the checks that decide whether
 * it can work: each device bound to vfio-pci, its IOMMU group viable (VFIO_GROUP_GET_STATUS
 * would say so, viability.ts), and the group not already held by another VFIO user.
 *
 * A group goes to one container, so one VM: the other endpoints of the group cannot be given
 * to anyone else while it runs. They are reported as companions.
 */
import { VfioUsageError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { VIABLE_DRIVERS, groupMembers, isBridge, readBindingState } from "./binding-state.js";
import { VFIO_PCI } from "./bind-plan.js";
import { parsePciAddress } from "../api/pci-address.js";
import { LIVE_FIX_CONTEXT, vfioCommand, type FixContext } from "./fix-action.js";

export interface PassthroughPlan {
  /** The devices to pass, as named. */
  readonly devices: readonly string[];
  readonly groups: readonly number[];
  /** Other vfio-pci endpoints of the same groups: usable by this VM only, or by none. */
  readonly companions: readonly string[];
}

/**
 * Checks that `devices` can be passed through and names their group companions.
 * @throws VfioUsageError (code ENOTBOUND) for a device not on vfio-pci, (ENOTVIABLE) for a
 *   group with a member on a driver that claims DMA; both say what to run.
 */
export async function planPassthrough(sysfs: Sysfs, devices: readonly string[], context: FixContext = LIVE_FIX_CONTEXT): Promise<PassthroughPlan> {
  if (devices.length === 0) throw new VfioUsageError("name at least one PCI device");
  const named: string[] = [];
  const groups: number[] = [];
  for (const text of devices) {
    const address = parsePciAddress(text) as string;
    const state = await readBindingState(sysfs, address);
    if (state.driver !== VFIO_PCI) {
      throw new VfioUsageError(`${address} is ${state.driver ? `bound to ${state.driver}` : "not bound"}, not vfio-pci: run '${vfioCommand(context, "bind", address)}' first`, "ENOTBOUND");
    }
    if (!named.includes(address)) named.push(address);
    if (!groups.includes(state.group)) groups.push(state.group);
  }
  const companions: string[] = [];
  for (const group of groups) {
    for (const member of await groupMembers(sysfs, group)) {
      const state = await readBindingState(sysfs, member);
      if (state.driver !== null && !VIABLE_DRIVERS.has(state.driver)) {
        throw new VfioUsageError(`IOMMU group ${group} is not viable: ${member} is bound to ${state.driver}; run '${vfioCommand(context, "bind", member)}'`, "ENOTVIABLE");
      }
      if (!named.includes(member) && state.driver === VFIO_PCI && !isBridge(state.classCode)) companions.push(member);
    }
  }
  return { devices: named, groups, companions };
}

/** QEMU options: one `-device vfio-pci,host=DDDD:BB:DD.F` per device (the "host" property of hw/vfio/pci.c). */
export function qemuArguments(plan: PassthroughPlan): string[] {
  return plan.devices.flatMap((address, i) => ["-device", `vfio-pci,host=${address},id=hostdev${i}`]);
}

/**
 * libvirt `<hostdev>` elements (libvirt formatdomain "Host device assignment"). managed='no'
 * because vfio-ts did the binding: with 'yes' libvirt would detach and reattach the device
 * itself around every VM start and stop, behind the journal's back.
 */
export function libvirtHostdevXml(plan: PassthroughPlan): string {
  return plan.devices.map((address) => {
    const [domain, bus, slotFunction] = address.split(":") as [string, string, string];
    const [slot, fn] = slotFunction.split(".") as [string, string];
    return [
      "<hostdev mode='subsystem' type='pci' managed='no'>",
      "  <driver name='vfio'/>",
      "  <source>",
      `    <address domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/>`,
      "  </source>",
      "</hostdev>",
    ].join("\n");
  }).join("\n") + "\n";
}

/**
 * A VM memory size as QEMU's -m takes it: a number with an optional K, M, G or T suffix
 * (binary units; no suffix means MiB, as for -m). Rejects anything else with a VfioUsageError.
 *
 * @example
 * parseMemorySize("4G"); // 4294967296n
 */
export function parseMemorySize(text: string): bigint {
  const match = /^(\d+)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!match) throw new VfioUsageError(`--memory wants a size such as 4G or 512M, not '${text}'`, "EINVAL");
  const shift = { "": 20n, K: 10n, M: 20n, G: 30n, T: 40n }[match[2]!.toUpperCase() as "" | "K" | "M" | "G" | "T"];
  const bytes = BigInt(match[1]!) << shift;
  if (bytes === 0n) throw new VfioUsageError("--memory wants a size above zero", "EINVAL");
  return bytes;
}

/** Free huge pages of every size, in bytes (kernel/mm/hugepages/hugepages-<size>kB/free_hugepages). */
export async function freeHugepageBytes(sysfs: Sysfs): Promise<bigint | undefined> {
  const pools = await sysfs.list("kernel/mm/hugepages");
  if (pools === undefined) return undefined;
  let total = 0n;
  for (const pool of pools) {
    const size = /^hugepages-(\d+)kB$/.exec(pool);
    const free = (await sysfs.read(`kernel/mm/hugepages/${pool}/free_hugepages`))?.trim();
    if (size && free !== undefined && /^\d+$/.test(free)) total += BigInt(size[1]!) * 1024n * BigInt(free);
  }
  return total;
}

/** Why a VM of a given memory size cannot have its memory pinned for DMA. */
export type MemoryFinding =
  | { readonly code: "memlock-below-memory"; readonly severity: "error"; readonly limit: bigint; readonly memory: bigint; readonly fix: string }
  | { readonly code: "hugepages-short"; readonly severity: "error"; readonly free: bigint; readonly memory: bigint; readonly fix: string };

/**
 * QEMU maps all guest RAM for DMA through type1, which pins it and charges it to the
 * process's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK (vfio_lock_acct(),
 * drivers/vfio/vfio_iommu_type1.c): a limit below the VM's memory makes QEMU fail with
 * "VFIO_MAP_DMA failed: Cannot allocate memory". Huge pages the VM is to use must be free.
 * `memlock` is the limit of the process that will run QEMU; `privileged` when it is root.
 */
export function memoryFindings(memory: bigint, memlock: bigint | undefined, privileged: boolean, hugepagesFree?: bigint): MemoryFinding[] {
  const findings: MemoryFinding[] = [];
  if (!privileged && memlock !== undefined && memlock < memory) {
    findings.push({
      code: "memlock-below-memory", severity: "error", limit: memlock, memory,
      fix: "VFIO pins all of the VM's memory: raise RLIMIT_MEMLOCK above it (ulimit -l, limits.conf, systemd LimitMEMLOCK=) or run QEMU with CAP_IPC_LOCK",
    });
  }
  if (hugepagesFree !== undefined && hugepagesFree < memory) {
    findings.push({
      code: "hugepages-short", severity: "error", free: hugepagesFree, memory,
      fix: "reserve more huge pages (vm.nr_hugepages, or hugepages= on the kernel command line) or give the VM less memory",
    });
  }
  return findings;
}
