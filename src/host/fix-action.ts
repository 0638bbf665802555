/**
 * Steps that make a group usable, as data with the shell commands that perform them.
 * The commands are the kernel's own sysfs interface (Documentation/ABI/testing/sysfs-bus-pci:
 * driver/unbind, driver_override, drivers_probe), the same sequence GUEST.md measured, so a
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

/** The commands of a {@link FixAction} name the live /sys, whatever tree was inspected. */
const SYS = "/sys";

/**
 * Releases `device` from `driver`: after this no driver holds it and it no longer claims
 * kernel DMA for its group.
 *
 * @example
 * unbindAction("0000:01:02.0" as PciAddress, "e1000").commands;
 * // ["echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind"]
 */
export function unbindAction(device: PciAddress, driver: string): FixAction {
  return { kind: "unbind", device, driver, commands: [`echo ${device} > ${SYS}/bus/pci/devices/${device}/driver/unbind`] };
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
export function bindVfioPciAction(device: PciAddress, from: string | undefined): FixAction {
  const commands = [`echo vfio-pci > ${SYS}/bus/pci/devices/${device}/driver_override`];
  if (from !== undefined) commands.push(`echo ${device} > ${SYS}/bus/pci/devices/${device}/driver/unbind`);
  commands.push(`echo ${device} > ${SYS}/bus/pci/drivers_probe`);
  return { kind: "bind-vfio-pci", device, from, commands, vfio: `vfio bind ${device}` };
}

/** Loads vfio-pci (and through its dependencies vfio and vfio_iommu_type1). */
export function loadVfioPciAction(): FixAction {
  return { kind: "load-module", module: "vfio-pci", commands: ["modprobe vfio-pci"] };
}
