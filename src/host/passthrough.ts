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
export async function planPassthrough(sysfs: Sysfs, devices: readonly string[]): Promise<PassthroughPlan> {
  if (devices.length === 0) throw new VfioUsageError("name at least one PCI device");
  const named: string[] = [];
  const groups: number[] = [];
  for (const text of devices) {
    const address = parsePciAddress(text) as string;
    const state = await readBindingState(sysfs, address);
    if (state.driver !== VFIO_PCI) {
      throw new VfioUsageError(`${address} is ${state.driver ? `bound to ${state.driver}` : "not bound"}, not vfio-pci: run 'vfio bind ${address}' first`, "ENOTBOUND");
    }
    if (!named.includes(address)) named.push(address);
    if (!groups.includes(state.group)) groups.push(state.group);
  }
  const companions: string[] = [];
  for (const group of groups) {
    for (const member of await groupMembers(sysfs, group)) {
      const state = await readBindingState(sysfs, member);
      if (state.driver !== null && !VIABLE_DRIVERS.has(state.driver)) {
        throw new VfioUsageError(`IOMMU group ${group} is not viable: ${member} is bound to ${state.driver}; run 'vfio bind ${member}'`, "ENOTVIABLE");
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
