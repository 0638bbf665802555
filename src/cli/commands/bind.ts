/**
 * `vfio bind <device…> [--dry-run] [--force] [--persist]`: moves devices, and every member of
 * their IOMMU groups that needs it, to vfio-pci, after the safety checks; prints the plan
 * first; journals each device so `vfio restore` undoes it.
 */
import { executeBind } from "../../host/bind-executor.js";
import { formatStep, planBind, type BindPlan, type BindStep } from "../../host/bind-plan.js";
import { checkDevices, checkGroupsClosed, type SafetyFinding } from "../../host/safety-checks.js";
import type { Sysfs } from "../../api/sysfs.js";
import type { Journal } from "../../host/journal.js";
import { vfioCommand } from "../../host/fix-action.js";
import { executePersist, formatPersistAction, planPersist, readPciId, type PersistDevice } from "../../host/persist.js";
import { defaultBindingDeps, shownPath, type BindingDeps } from "../binding-deps.js";
import type { Command, CommandIo } from "../command.js";
import { toJson } from "../describe-device.js";
import { parseCommandArgs, parseTimeout, usageError } from "../parse-args.js";
import { INTX_MASK_REFUSAL, planUioBind } from "../../host/uio-bind-plan.js";
import { UIO_PCI_GENERIC } from "../../host/uio-status.js";
import { BindStepError } from "../../host/bind-executor.js";
import { UNSAFE_NO_IOMMU_WARNING } from "../../uio/opt-in.js";

const usage = `usage: vfio bind <device>... [--dry-run [--json]] [--force] [--persist] [--timeout <ms>]
                 [--sysfs <dir> | --emulated] [--journal <file>]
                 [--driver uio_pci_generic --unsafe-no-iommu]

Binds each device, and every other member of its IOMMU group that would keep the group from
being viable, to vfio-pci: for each, driver_override, unbind, drivers_probe, and a check of
the driver link. Bridges and devices on pci-stub or pcieport stay as they are.

Before any write it refuses, naming what it found, unless --force: a network interface of
a device that is up, has addresses or routes; a block device that is mounted, swap, or under
LVM/MD/dm; a mounted virtio-9p or virtiofs share; the boot VGA device or a framebuffer; a
group that a VFIO user has open. What hangs off the device counts (a virtio NIC's interface
sits below its virtio device).

  --dry-run        print the plan and every sysfs write, in order, and change nothing
  --json           with --dry-run: the plan, the safety findings and the persist plan as JSON
  --force          go on despite the safety findings
  --persist        also keep the binding across reboots: driverctl override files where
                   driverctl is installed, else /etc/modprobe.d/vfio-ts.conf (by device ID)
                   and the initramfs configuration; 'vfio unpersist' undoes it
  --timeout <ms>   limit for each write and check (default 10000)
  --sysfs <dir>    act on this sysfs tree instead of /sys: a sysfs tree, or a directory
                   captured by scripts/capture-sysfs.sh (holding sys/; its proc/ answers
                   the safety checks)
  --emulated       act on the built-in emulated machine (journal in memory unless --journal)
  --journal <file> the journal (default /run/vfio-ts/journal.json)
  --driver <name>  vfio-pci (default), or uio_pci_generic: UIO, for hosts without an IOMMU.
                   Only the named devices move (no group needed); the device can then write
                   anywhere in memory, so it needs --unsafe-no-iommu. Devices whose INTx
                   cannot be masked are refused by the driver and rolled back.
  --unsafe-no-iommu  accept that the device will have no DMA protection

A failure part-way puts every device already touched back on its driver.
Undo with 'vfio restore'.`;

/** The plan, as the user reads it before anything happens. */
export function formatPlan(plan: BindPlan, sysfs: Sysfs): string {
  const lines: string[] = [];
  for (const group of plan.groups) {
    lines.push(group < 0 ? "No IOMMU group:" : `IOMMU group ${group}:`);
    for (const m of plan.members.filter((member) => member.group === group)) {
      lines.push(`  ${m.address}  ${m.action.padEnd(13)}  ${m.reason}${m.requested ? "" : " (not named, but in the group)"}`);
    }
  }
  lines.push(plan.steps.length === 0 ? "Nothing to do." : "Steps:");
  plan.steps.forEach((step, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${formatShownStep(step, sysfs)}`));
  return `${lines.join("\n")}\n`;
}

/** formatStep with the sysfs root in front of paths. */
export function formatShownStep(step: BindStep, sysfs: Sysfs): string {
  return "path" in step ? formatStep({ ...step, path: shownPath(sysfs, step.path) }) : formatStep(step);
}

/** Prints findings; resolves true when the command may go on. */
export function reportFindings(findings: readonly SafetyFinding[], force: boolean, dryRun: boolean, io: CommandIo): boolean {
  if (findings.length === 0) return true;
  for (const f of findings) io.stderr.write(`${force ? "warning" : "refused"}: ${f.message}\n`);
  if (force) return true;
  if (dryRun) {
    io.stderr.write("(a real run refuses until these are dealt with, or with --force)\n");
    return true;
  }
  return false;
}

/** The devices --persist covers: every member that ends on vfio-pci, with the host driver it had. */
async function persistDevices(plan: BindPlan, journal: Journal, sysfs: Sysfs): Promise<PersistDevice[]> {
  const entries = await journal.entries();
  const out: PersistDevice[] = [];
  for (const m of plan.members) {
    if (m.action === "stays") continue;
    const hostDriver = m.action === "bind" ? m.driver : entries.find((e) => e.address === m.address && e.sysfs === sysfs.description)?.previousDriver ?? null;
    out.push({ address: m.address, id: await readPciId(sysfs, m.address), hostDriver });
  }
  return out;
}

export { parseTimeout } from "../parse-args.js";

/** `vfio bind` over `deps` (tests pass a fake kernel sysfs and an in-memory journal). */
export function bindCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "bind",
    summary: "bind devices (and their IOMMU groups) to vfio-pci, safely and reversibly",
    usage,
    async run(args, io) {
      const { values, positionals } = parseCommandArgs("bind", args, {
        "dry-run": { type: "boolean" }, force: { type: "boolean" }, persist: { type: "boolean" },
        timeout: { type: "string" }, sysfs: { type: "string" }, emulated: { type: "boolean" }, journal: { type: "string" },
        json: { type: "boolean" }, driver: { type: "string" }, "unsafe-no-iommu": { type: "boolean" },
      }, { min: 1, max: Infinity, name: "device" });
      const driver = values.driver ?? "vfio-pci";
      if (driver !== "vfio-pci" && driver !== UIO_PCI_GENERIC) throw usageError("bind", `--driver is vfio-pci or ${UIO_PCI_GENERIC}, not '${driver}'`);
      const uio = driver === UIO_PCI_GENERIC;
      if (uio && values["unsafe-no-iommu"] !== true) {
        throw usageError("bind", `${UIO_PCI_GENERIC} leaves the device able to write anywhere in memory: add --unsafe-no-iommu to accept that (or bind to vfio-pci)`);
      }
      if (uio && values.persist) throw usageError("bind", `--persist keeps vfio-pci bindings; it does not go with --driver ${UIO_PCI_GENERIC}`);
      if (uio) io.stderr.write(`${UNSAFE_NO_IOMMU_WARNING}\n`);
      const dryRun = values["dry-run"] === true;
      // A real bind reports each write as it happens; as data, only the plan is whole beforehand.
      if (values.json && !dryRun) throw usageError("bind", "--json goes with --dry-run");
      const out: CommandIo = values.json ? { ...io, stdout: { write: () => true }, stderr: { write: () => true } } : io;
      const force = values.force === true;
      const stepTimeoutMs = parseTimeout("bind", values.timeout);
      if (values.persist && (values.sysfs !== undefined || values.emulated)) {
        throw usageError("bind", `--persist changes this host's boot configuration; it does not go with ${values.emulated ? "--emulated" : "--sysfs"}`);
      }
      const target = await deps.openTarget("bind", values);
      const { sysfs, journal } = target;
      const plan = uio ? await planUioBind(sysfs, positionals) : await planBind(sysfs, positionals);
      out.stdout.write(formatPlan(plan, sysfs));
      const moving = plan.members.filter((m) => m.action === "bind").map((m) => m.address);
      const findings = [
        ...(await checkDevices(sysfs, target.probe, moving)),
        ...(await checkGroupsClosed(target.probe, plan.groups.filter((g) => g >= 0))),
      ];
      if (!reportFindings(findings, force, dryRun, out)) {
        io.stderr.write(`vfio bind: refused (${findings.length} finding${findings.length === 1 ? "" : "s"}); nothing was changed. --force overrides.\n`);
        return 1;
      }
      const persisting = values.persist ? await persistDevices(plan, journal, sysfs) : [];
      const persistPlan = values.persist ? await planPersist(deps.openConfigFs(), sysfs, persisting, { force }) : undefined;
      if (persistPlan) {
        out.stdout.write(`Persist (${persistPlan.method}):\n`);
        for (const action of persistPlan.actions) out.stdout.write(`  ${formatPersistAction(action, deps.openConfigFs().root)}\n`);
      }
      if (values.json) {
        io.stdout.write(toJson({
          groups: plan.groups, members: plan.members,
          steps: plan.steps.map((step) => ("path" in step ? { ...step, path: shownPath(sysfs, step.path) } : step)),
          findings, refusedWithoutForce: findings.length > 0 && !force, persist: persistPlan ?? null,
        }));
      }
      if (dryRun) return 0;
      const restore = vfioCommand(target.fix, "restore", ...(values.journal === undefined ? [] : ["--journal", values.journal]));
      if (plan.steps.length > 0) {
        io.stdout.write("Running:\n");
        try {
          await executeBind(plan, {
            sysfs, journal, loadModule: target.loadModule, ...(stepTimeoutMs ? { stepTimeoutMs } : {}), restoreCommand: restore,
            onStep: (step) => io.stdout.write(`  ${formatShownStep(step, sysfs)}\n`),
          });
        } catch (error) {
          const refused = uio && error instanceof BindStepError && error.step.kind === "expect-driver" && error.step.driver === UIO_PCI_GENERIC;
          if (!refused) throw error;
          io.stderr.write(`vfio bind: ${error.step.device} refused: ${INTX_MASK_REFUSAL}; rolled back: ${error.rolledBack.join(", ") || "nothing"}\n`);
          return 1;
        }
        io.stdout.write(values.emulated && values.journal === undefined
          ? `Bound ${moving.join(", ")} to ${driver} on the emulated machine, which ends with this command: give --journal FILE to bind and restore to carry its bindings over.\n`
          : `Bound ${moving.join(", ")} to ${driver}; '${restore}' puts them back (journal: ${journal.description}).\n`);
      }
      if (persistPlan) {
        try {
          await executePersist(deps.openConfigFs(), persistPlan, deps.runCommand);
        } catch (error) {
          io.stderr.write(`vfio bind: bound, but not persisted: ${error instanceof Error ? error.message : String(error)}\n`);
          return 1;
        }
        io.stdout.write("Persisted: the binding comes back at boot; 'vfio unpersist' stops that.\n");
      }
      return 0;
    },
  };
}

/** `vfio bind` on this machine. */
export const bind = bindCommand();
