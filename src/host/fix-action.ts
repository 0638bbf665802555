/**
 * Steps that make a group usable, as data with the shell commands that perform them.
 * The commands are the kernel's own sysfs interface (Documentation/ABI/testing/sysfs-bus-pci:
 * driver/unbind, driver_override, drivers_probe), the sequence the test guest binds with, so a
 * user can run them by hand; `vfio bind` is the safe way that plans, checks and journals.
 */
import type { PciAddress } from "../api/pci-address.js";

/** One step. */
export type FixAction =
  | { readonly kind: "load-module"; readonly module: string; readonly commands: readonly string[] }
  | { readonly kind: "unbind"; readonly device: PciAddress; readonly driver: string; readonly commands: readonly string[] }
  | {
    readonly kind: "bind-vfio-pci"; readonly device: PciAddress; readonly from: string | undefined; readonly commands: readonly string[];
    /** The vfio-ts command that does it with the safety checks and a journal for `vfio restore`. */
    readonly vfio: string;
  };

/**
 * Where a fix is to be applied, so that a printed command acts on the machine that was
 * inspected and never on the live one by mistake.
 */
export interface FixContext {
  /** Options that make `vfio` act on that machine: [] (this one), ["--sysfs", DIR], ["--emulated"]. */
  readonly vfioOptions: readonly string[];
  /** The sysfs root raw commands write under ("/sys", "DIR/sys"), or undefined when there is none (emulated). */
  readonly sysfs: string | undefined;
  /** True for the running machine: only there do modprobe and the like act on it. */
  readonly live: boolean;
}

/** The running machine. */
export const LIVE_FIX_CONTEXT: FixContext = { vfioOptions: [], sysfs: "/sys", live: true };

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[\w,=:./+@-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** A `vfio` command line for `context`: "vfio bind --sysfs DIR 0000:01:01.0". */
export function vfioCommand(context: FixContext, command: string, ...args: readonly string[]): string {
  return ["vfio", command, ...context.vfioOptions, ...args].map(shellWord).join(" ");
}

/**
 * Releases `device` from `driver`: after this no driver holds it and it no longer claims
 * kernel DMA for its group.
 *
 * @example
 * unbindAction("0000:01:02.0" as PciAddress, "e1000").commands;
 * // ["echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind"]
 */
export function unbindAction(device: PciAddress, driver: string, context: FixContext = LIVE_FIX_CONTEXT): FixAction {
  const sys = context.sysfs === undefined ? undefined : shellWord(context.sysfs);
  return { kind: "unbind", device, driver, commands: sys === undefined ? [] : [`echo ${device} > ${sys}/bus/pci/devices/${device}/driver/unbind`] };
}

/**
 * Binds `device` to vfio-pci through driver_override (Linux 3.16+), which binds this one
 * device rather than every device with its ids (new_id would). `vfio` names `vfio bind`, which
 * does the same writes after its safety checks and journals them; `commands` are the writes.
 *
 * @example
 * bindVfioPciAction("0000:01:01.0" as PciAddress, undefined).commands;
 * // ["echo vfio-pci > /sys/bus/pci/devices/0000:01:01.0/driver_override",
 * //  "echo 0000:01:01.0 > /sys/bus/pci/drivers_probe"]
 */
export function bindVfioPciAction(device: PciAddress, from: string | undefined, context: FixContext = LIVE_FIX_CONTEXT): FixAction {
  const commands: string[] = [];
  if (context.sysfs !== undefined) {
    const sys = shellWord(context.sysfs);
    commands.push(`echo vfio-pci > ${sys}/bus/pci/devices/${device}/driver_override`);
    if (from !== undefined) commands.push(`echo ${device} > ${sys}/bus/pci/devices/${device}/driver/unbind`);
    commands.push(`echo ${device} > ${sys}/bus/pci/drivers_probe`);
  }
  return { kind: "bind-vfio-pci", device, from, commands, vfio: vfioCommand(context, "bind", device) };
}

/**
 * Loads vfio-pci (and through its dependencies vfio and vfio_iommu_type1). modprobe acts on
 * the running kernel only: for another machine (a capture) there is no command to print.
 */
export function loadVfioPciAction(context: FixContext = LIVE_FIX_CONTEXT): FixAction {
  return { kind: "load-module", module: "vfio-pci", commands: context.live ? ["modprobe vfio-pci"] : [] };
}
