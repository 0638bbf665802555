/**
 * `vfio restore [<device…>] [--dry-run] [--force]`: puts journalled devices back on the driver
 * (and driver_override) they had before `vfio bind`.
 */
import { VfioUsageError } from "../../api/errors.js";
import { executeRestore } from "../../host/bind-executor.js";
import { restoreSteps } from "../../host/bind-plan.js";
import { parsePciAddress } from "../../api/pci-address.js";
import { checkGroupsClosed } from "../../host/safety-checks.js";
import { defaultBindingDeps, type BindingDeps } from "../binding-deps.js";
import type { Command, CommandIo } from "../command.js";
import { toJson } from "../describe-device.js";
import { parseCommandArgs } from "../parse-args.js";
import { formatShownStep, parseTimeout, reportFindings } from "./bind.js";

const usage = `usage: vfio restore [<device>...] [--dry-run] [--force] [--json] [--timeout <ms>]
                    [--sysfs <dir> | --emulated] [--journal <file>]

Puts each device that 'vfio bind' moved (all of them, or those named) back on the driver and
driver_override it had, as the journal recorded them. Refuses, unless --force, while a VFIO
user has the device's group open.

  --dry-run        print every sysfs write, in order, and change nothing
  --force          go on even though a group is open
  --json           print the outcome as JSON: each device's steps with --dry-run, else what
                   was restored and what failed
  --timeout <ms>   limit for each write and check (default 10000)
  --sysfs <dir>    act on this sysfs tree instead of /sys (or a capture holding sys/)
  --emulated       act on the built-in emulated machine, as the journal (--journal) left it
  --journal <file> the journal (default /run/vfio-ts/journal.json)`;

/** `vfio restore` over `deps` (tests pass a fake kernel sysfs and an in-memory journal). */
export function restoreCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "restore",
    summary: "put devices bound by 'vfio bind' back on their original drivers",
    usage,
    async run(args, io) {
      const { values, positionals } = parseCommandArgs("restore", args, {
        "dry-run": { type: "boolean" }, force: { type: "boolean" }, timeout: { type: "string" },
        sysfs: { type: "string" }, emulated: { type: "boolean" }, journal: { type: "string" }, json: { type: "boolean" },
      });
      const json = values.json === true;
      const out: CommandIo = json ? { ...io, stdout: { write: () => true }, stderr: { write: () => true } } : io;
      const dryRun = values["dry-run"] === true;
      const stepTimeoutMs = parseTimeout("restore", values.timeout);
      const target = await deps.openTarget("restore", values);
      const { sysfs, journal } = target;
      const ours = (await journal.entries()).filter((e) => e.sysfs === sysfs.description);
      const wanted = positionals.map((p) => parsePciAddress(p) as string);
      for (const address of wanted) {
        if (!ours.some((e) => e.address === address)) {
          throw new VfioUsageError(`${address} is not in the journal (${journal.description}): vfio-ts did not bind it`, "ENOENT");
        }
      }
      const entries = wanted.length === 0 ? ours : ours.filter((e) => wanted.includes(e.address));
      if (entries.length === 0) {
        io.stdout.write(json ? toJson({ devices: [], restored: [], failed: [] }) : "Nothing to restore: the journal holds no device for this sysfs.\n");
        return 0;
      }
      const groups = [...new Set(entries.map((e) => e.group))];
      const findings = await checkGroupsClosed(target.probe, groups);
      if (!reportFindings(findings, values.force === true, dryRun, out)) {
        if (json) io.stdout.write(toJson({ findings, refused: true }));
        io.stderr.write("vfio restore: refused; nothing was changed. Close the VFIO user first, or --force.\n");
        return 1;
      }
      if (dryRun) {
        const devices = [];
        for (const entry of entries) {
          const steps = await restoreSteps(sysfs, entry);
          devices.push({ address: entry.address, previousDriver: entry.previousDriver, steps: steps.map((s) => formatShownStep(s, sysfs)) });
          out.stdout.write(`${entry.address} -> ${entry.previousDriver ?? "no driver"}:\n`);
          for (const step of steps) out.stdout.write(`  ${formatShownStep(step, sysfs)}\n`);
        }
        if (json) io.stdout.write(toJson({ findings, devices }));
        return 0;
      }
      const outcome = await executeRestore(entries, {
        sysfs, journal, ...(stepTimeoutMs ? { stepTimeoutMs } : {}),
        onStep: (step) => out.stdout.write(`  ${formatShownStep(step, sysfs)}\n`),
      });
      if (json) {
        io.stdout.write(toJson({
          findings,
          restored: outcome.restored.map((address) => ({ address, driver: entries.find((e) => e.address === address)!.previousDriver })),
          failed: outcome.failed.map(({ address, error }) => ({ address, message: error instanceof Error ? error.message : String(error) })),
        }));
        return outcome.failed.length === 0 ? 0 : 1;
      }
      for (const address of outcome.restored) {
        const entry = entries.find((e) => e.address === address)!;
        io.stdout.write(`Restored ${address} to ${entry.previousDriver ?? "no driver"}.\n`);
      }
      for (const { address, error } of outcome.failed) {
        io.stderr.write(`vfio restore: ${address}: ${error instanceof Error ? error.message : String(error)} (still in the journal)\n`);
      }
      return outcome.failed.length === 0 ? 0 : 1;
    },
  };
}

/** `vfio restore` on this machine. */
export const restore = restoreCommand();
