/**
 * Binding to uio_pci_generic as data, through the same steps, journal, dry-run, safety checks
 * and restore as vfio-pci (bind-plan.ts, bind-executor.ts). The differences are UIO's:
 *
 * - only the named devices move: UIO has no notion of a group (each device is its own
 *   /dev/uioN), and a device needs no IOMMU group at all (hosts without an IOMMU are where UIO
 *   is used). Moving a device to uio_pci_generic makes its group not viable for VFIO, since
 *   the driver is not driver_managed_dma (Linux 6.1);
 * - bridges are refused: uio_pci_generic would take the bridge from pcieport/shpchp and drive
 *   nothing behind it;
 * - uio_pci_generic's probe refuses (-ENODEV) a device with an interrupt whose Interrupt
 *   Disable bit does not work (pci_intx_mask_supported, drivers/uio/uio_pci_generic.c). sysfs
 *   does not show that bit's behaviour, so the plan cannot know in advance: the executor's
 *   driver check after drivers_probe catches the refusal and rolls the device back, and the
 *   CLI names the reason (INTX_MASK_REFUSAL).
 */
import { VfioUsageError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { parsePciAddress } from "../api/pci-address.js";
import { bindSteps, type BindPlan, type BindStep, type MemberPlan } from "./bind-plan.js";
import { isBridge, pciPaths, readBindingState } from "./binding-state.js";
import { UIO_PCI_GENERIC } from "./uio-status.js";

/** Why uio_pci_generic declines a device it was offered. */
export const INTX_MASK_REFUSAL =
  "uio_pci_generic's probe refuses a device whose INTx cannot be masked (pci_intx_mask_supported: the Interrupt Disable bit of PCI_COMMAND does not stick; ENODEV, see dmesg)";

/** Plans binding `devices` to uio_pci_generic. Reads sysfs only. */
export async function planUioBind(sysfs: Sysfs, devices: readonly string[]): Promise<BindPlan> {
  if (devices.length === 0) throw new VfioUsageError("name at least one PCI device");
  const members: MemberPlan[] = [];
  for (const address of new Set(devices.map(parsePciAddress))) {
    const state = await readBindingState(sysfs, address, { allowNoGroup: true });
    if (isBridge(state.classCode)) {
      throw new VfioUsageError(`${address} is a bridge: uio_pci_generic drives endpoints only (it would take the bridge from ${state.driver ?? "its port driver"} and drive nothing behind it)`, "EINVAL");
    }
    const already = state.driver === UIO_PCI_GENERIC;
    members.push({
      ...state,
      requested: true,
      action: already ? "already-bound" : "bind",
      reason: already ? `already bound to ${UIO_PCI_GENERIC}` : `${state.driver ? `moves from ${state.driver}` : "unbound; bound"} to ${UIO_PCI_GENERIC}: no IOMMU protection`,
    });
  }
  const steps: BindStep[] = [];
  if (members.some((m) => m.action === "bind") && (await sysfs.list(pciPaths.driverDir(UIO_PCI_GENERIC))) === undefined) {
    steps.push(
      { kind: "load-module", module: UIO_PCI_GENERIC, why: "the uio_pci_generic driver is not loaded" },
      { kind: "expect-path", path: pciPaths.driverDir(UIO_PCI_GENERIC), why: "the uio_pci_generic driver is registered" },
    );
  }
  for (const member of members) if (member.action === "bind") steps.push(...bindSteps(member, UIO_PCI_GENERIC));
  const groups = [...new Set(members.map((m) => m.group))];
  return { driver: UIO_PCI_GENERIC, groups, members, steps };
}
