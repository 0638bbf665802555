/**
 * Binding as data: planBind() reads the state of every member of the IOMMU groups involved
 * and returns the exact list of sysfs writes and checks that binding them to vfio-pci takes;
 * planRestore() does the same for putting devices back. `vfio bind --dry-run` prints these
 * steps, and bind-executor.ts runs exactly them, so what is printed is what is done.
 *
 * The sequence per device is the one Documentation/ABI/testing/sysfs-bus-pci gives for
 * driver_override: write the driver name to driver_override, unbind from the current driver,
 * write the address to drivers_probe; then check the driver link. A whole group is planned
 * because VFIO opens a group only when every member is bound to vfio-pci, to a driver that
 * claims no DMA (pci-stub, pcieport), or to nothing (vfio_group_viable in Linux 6.1).
 */
import { VfioUsageError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import {
  VIABLE_DRIVERS,
  groupMembers,
  isBridge,
  pciPaths,
  readBindingState,
  readDriver,
  type BindingState,
} from "./binding-state.js";
import { parsePciAddress } from "../api/pci-address.js";

/** The driver vfio-ts binds to. */
export const VFIO_PCI = "vfio-pci";

/** One step of a plan. `device` is the PCI address the step acts for, where there is one. */
export type BindStep =
  | { readonly kind: "load-module"; readonly module: string; readonly why: string }
  | { readonly kind: "expect-path"; readonly path: string; readonly why: string }
  | { readonly kind: "write"; readonly device: string; readonly path: string; readonly value: string; readonly why: string }
  | {
      readonly kind: "expect-driver";
      readonly device: string;
      readonly path: string;
      /** The driver the link must name, or null for no driver. */
      readonly driver: string | null;
      readonly why: string;
    };

/** What happens to one group member. */
export type MemberAction =
  /** Moved to vfio-pci by the steps. */
  | "bind"
  /** Already on vfio-pci: nothing to do. */
  | "already-bound"
  /** Left as it is: a bridge, or on a driver that keeps the group viable. */
  | "stays";

export interface MemberPlan extends BindingState {
  /** Named on the command line (others are in the plan because they share a group). */
  readonly requested: boolean;
  readonly action: MemberAction;
  /** Why, in words, for the printed plan. */
  readonly reason: string;
}

export interface BindPlan {
  /** The driver the plan binds to (default vfio-pci; uio-bind-plan.ts plans uio_pci_generic). */
  readonly driver?: string;
  readonly groups: readonly number[];
  readonly members: readonly MemberPlan[];
  readonly steps: readonly BindStep[];
}

function memberAction(state: BindingState): { action: MemberAction; reason: string } {
  if (state.driver === VFIO_PCI) return { action: "already-bound", reason: "already bound to vfio-pci" };
  if (isBridge(state.classCode)) {
    if (state.driver === null || VIABLE_DRIVERS.has(state.driver)) {
      return { action: "stays", reason: `bridge${state.driver ? ` on ${state.driver}` : ""}: vfio-pci does not take bridges, and it keeps the group viable` };
    }
    throw new VfioUsageError(
      `group ${state.group}: bridge ${state.address} is bound to ${state.driver}, which claims DMA; vfio-pci cannot take a bridge, so the group cannot become viable (unbind it from ${state.driver} first)`,
      "ENOTVIABLE",
    );
  }
  if (state.driver !== null && VIABLE_DRIVERS.has(state.driver)) {
    return { action: "stays", reason: `on ${state.driver}, which claims no DMA and keeps the group viable` };
  }
  return { action: "bind", reason: state.driver ? `moves from ${state.driver} to vfio-pci` : "unbound; bound to vfio-pci so no other driver claims it" };
}

/** The steps that move one device to `driver`. */
export function bindSteps(state: BindingState, driver = VFIO_PCI): BindStep[] {
  const { address } = state;
  const steps: BindStep[] = [
    { kind: "write", device: address, path: pciPaths.driverOverride(address), value: driver, why: `only ${driver} may bind ${address}` },
  ];
  if (state.driver !== null) {
    steps.push(
      { kind: "write", device: address, path: pciPaths.unbind(state.driver), value: address, why: `release ${address} from ${state.driver}` },
      { kind: "expect-driver", device: address, path: pciPaths.driverLink(address), driver: null, why: `${address} has no driver` },
    );
  }
  steps.push(
    { kind: "write", device: address, path: pciPaths.driversProbe, value: address, why: `let ${driver} probe ${address}` },
    { kind: "expect-driver", device: address, path: pciPaths.driverLink(address), driver, why: `${address} is bound to ${driver}` },
  );
  return steps;
}

/**
 * Plans binding `devices` (PCI addresses) and every other member of their IOMMU groups.
 * Reads sysfs only.
 * @throws VfioUsageError for a malformed or missing device, or a group that cannot become viable.
 * @example
 * const plan = await planBind(sysfs, ["0000:01:00.0"]);
 * for (const step of plan.steps) console.log(formatStep(step));
 */
export async function planBind(sysfs: Sysfs, devices: readonly string[]): Promise<BindPlan> {
  if (devices.length === 0) throw new VfioUsageError("name at least one PCI device");
  const requested = new Set<string>(devices.map(parsePciAddress));
  const groups: number[] = [];
  for (const address of requested) {
    const { group } = await readBindingState(sysfs, address);
    if (!groups.includes(group)) groups.push(group);
  }
  const members: MemberPlan[] = [];
  for (const group of groups) {
    for (const address of await groupMembers(sysfs, group)) {
      const state = await readBindingState(sysfs, address);
      members.push({ ...state, requested: requested.has(address), ...memberAction(state) });
    }
  }
  const steps: BindStep[] = [];
  if (members.some((m) => m.action === "bind") && (await sysfs.list(pciPaths.driverDir(VFIO_PCI))) === undefined) {
    steps.push(
      { kind: "load-module", module: VFIO_PCI, why: "the vfio-pci driver is not loaded" },
      { kind: "expect-path", path: pciPaths.driverDir(VFIO_PCI), why: "the vfio-pci driver is registered" },
    );
  }
  for (const member of members) if (member.action === "bind") steps.push(...bindSteps(member));
  return { groups, members, steps };
}

/** What a device is put back to: the journal's record of it. */
export interface RestoreTarget {
  readonly address: string;
  readonly previousDriver: string | null;
  readonly previousOverride: string | null;
}

/**
 * The steps that put a device back on its previous driver with its previous driver_override,
 * from its state now (so it also serves to roll back a bind that stopped half way).
 */
export async function restoreSteps(sysfs: Sysfs, target: RestoreTarget): Promise<BindStep[]> {
  const { address, previousDriver, previousOverride } = target;
  const current = await readDriver(sysfs, address);
  // Writing "\n" clears driver_override (driver_set_override treats an empty string as clear).
  const steps: BindStep[] = [
    {
      kind: "write", device: address, path: pciPaths.driverOverride(address), value: previousOverride ?? "\n",
      why: previousOverride ? `restore driver_override ${previousOverride}` : "clear driver_override",
    },
  ];
  if (current === previousDriver) return steps;
  if (current !== null) {
    steps.push(
      { kind: "write", device: address, path: pciPaths.unbind(current), value: address, why: `release ${address} from ${current}` },
      { kind: "expect-driver", device: address, path: pciPaths.driverLink(address), driver: null, why: `${address} has no driver` },
    );
  }
  if (previousDriver !== null) {
    steps.push(
      { kind: "write", device: address, path: pciPaths.driversProbe, value: address, why: `let ${previousDriver} probe ${address} again` },
      { kind: "expect-driver", device: address, path: pciPaths.driverLink(address), driver: previousDriver, why: `${address} is back on ${previousDriver}` },
    );
  }
  return steps;
}

/** One line per step, as `--dry-run` prints it. */
export function formatStep(step: BindStep): string {
  switch (step.kind) {
    case "load-module":
      return `modprobe ${step.module}    # ${step.why}`;
    case "expect-path":
      return `check ${step.path} exists    # ${step.why}`;
    case "write":
      return `echo ${JSON.stringify(step.value.replace(/\n$/, ""))} > ${step.path}    # ${step.why}`;
    case "expect-driver":
      return `check ${step.path} ${step.driver === null ? "is absent" : `-> ${step.driver}`}    # ${step.why}`;
  }
}
