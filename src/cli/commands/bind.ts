/**
 * `vfio bind <device…> [--dry-run] [--force] [--persist]`: moves devices, and every member of
 * their IOMMU groups that needs it, to vfio-pci, after the safety checks; prints the plan
 * first; journals each device so `vfio restore` undoes it.
 */
import { parseArgs } from "node:util";
import { VfioUsageError } from "../../api/errors.js";
import { executeBind } from "../../host/bind-executor.js";
import { formatStep, planBind, type BindPlan, type BindStep } from "../../host/bind-plan.js";
import { checkDevices, checkGroupsClosed, type SafetyFinding } from "../../host/safety-checks.js";
import type { Sysfs } from "../../api/sysfs.js";
import { defaultBindingDeps, shownPath, type BindingDeps } from "../binding-deps.js";
import type { Command, CommandIo } from "../command.js";

const usage = `usage: vfio bind <device>... [--dry-run] [--force] [--persist] [--timeout <ms>]
                 [--sysfs <dir>] [--journal <file>]

Binds each device, and every other member of its IOMMU group that would keep the group from
being viable, to vfio-pci: for each, driver_override, unbind, drivers_probe, and a check of
the driver link. Bridges and devices on pci-stub or pcieport stay as they are.

Before any write it refuses, naming what it found, unless --force: a network interface of
a device that is up, has addresses or routes; a block device that is mounted, swap, or under
LVM/MD/dm; the boot VGA device or a framebuffer; a group that a VFIO user has open.

  --dry-run        print the plan and every sysfs write, in order, and change nothing
  --force          go on despite the safety findings
  --persist        also keep the binding across reboots (see 'vfio unpersist')
  --timeout <ms>   limit for each write and check (default 10000)
  --sysfs <dir>    act on this sysfs tree instead of /sys (a fixture, the emulated machine)
  --journal <file> the journal (default /run/vfio-ts/journal.json)

A failure part-way puts every device already touched back on its driver.
Undo with 'vfio restore'.`;

/** The plan, as the user reads it before anything happens. */
export function formatPlan(plan: BindPlan, sysfs: Sysfs): string {
  const lines: string[] = [];
  for (const group of plan.groups) {
    lines.push(`IOMMU group ${group}:`);
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

export function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) throw new VfioUsageError(`--timeout wants a positive number of milliseconds, not '${text}'`);
  return ms;
}

export function bindCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "bind",
    summary: "bind devices (and their IOMMU groups) to vfio-pci, safely and reversibly",
    usage,
    async run(args, io) {
      const { values, positionals } = (() => {
        try {
          return parseArgs({
            args: [...args], allowPositionals: true, strict: true,
            options: {
              "dry-run": { type: "boolean" }, force: { type: "boolean" }, persist: { type: "boolean" },
              timeout: { type: "string" }, sysfs: { type: "string" }, journal: { type: "string" },
            },
          });
        } catch (error) {
          throw new VfioUsageError((error as Error).message.split("\n")[0]!);
        }
      })();
      const dryRun = values["dry-run"] === true;
      const force = values.force === true;
      const stepTimeoutMs = parseTimeout(values.timeout);
      if (values.persist) {
        throw new VfioUsageError("--persist is not available in this build; bind without it (the binding lasts until reboot)", "ENOTSUP");
      }
      const sysfs = deps.openSysfs(values.sysfs);
      const plan = await planBind(sysfs, positionals);
      io.stdout.write(formatPlan(plan, sysfs));
      const moving = plan.members.filter((m) => m.action === "bind").map((m) => m.address);
      const findings = [
        ...(await checkDevices(sysfs, deps.probe, moving)),
        ...(await checkGroupsClosed(deps.probe, plan.groups, deps.devRoot)),
      ];
      if (!reportFindings(findings, force, dryRun, io)) {
        io.stderr.write(`vfio bind: refused (${findings.length} finding${findings.length === 1 ? "" : "s"}); nothing was changed. --force overrides.\n`);
        return 1;
      }
      if (dryRun || plan.steps.length === 0) return 0;
      const journal = deps.openJournal(values.journal);
      await executeBind(plan, {
        sysfs, journal, loadModule: deps.loadModule, ...(stepTimeoutMs ? { stepTimeoutMs } : {}),
        onStep: (step) => io.stdout.write(`  ${formatShownStep(step, sysfs)}\n`),
      });
      io.stdout.write(`Bound ${moving.join(", ")} to vfio-pci; 'vfio restore' puts them back (journal: ${journal.description}).\n`);
      return 0;
    },
  };
}

export const bind = bindCommand();
