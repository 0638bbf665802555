/**
 * What `vfio bind`, `vfio restore`, `vfio unpersist` and `vfio passthrough` act on, injectable
 * so tests run the real commands against a fake kernel sysfs: by default the live /sys, /proc,
 * /dev, the journal under /run and modprobe; `--sysfs DIR` a tree or capture (its proc/ for
 * the safety checks); `--emulated` the emulated machine with a journal in memory, or in
 * --journal FILE, whose bindings it replays first so bind and restore carry over.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { statSync } from "node:fs";
import { VfioSystemError, VfioUsageError, errnoValue } from "../api/errors.js";
import type { HostEnvironment } from "../api/host-environment.js";
import type { Sysfs } from "../api/sysfs.js";
import { executeBind } from "../host/bind-executor.js";
import { planBind } from "../host/bind-plan.js";
import type { FixContext } from "../host/fix-action.js";
import { DEFAULT_JOURNAL_PATH, fileJournal, memoryJournal, type Journal } from "../host/journal.js";
import type { HostProbe } from "../host/host-probe.js";
import { nodeConfigFs, type ConfigFs } from "../host/persist.js";
import { openTargetMachine } from "./host-options.js";

/** The machine a binding command changes, and the journal that records it. */
export interface BindingTarget {
  readonly sysfs: Sysfs;
  /** For the readiness checks (IOMMU, interrupt remapping, memlock) `vfio passthrough` makes. */
  readonly env: HostEnvironment;
  /** Interfaces, mounts, swap and VFIO users of that machine, for the safety checks. */
  readonly probe: HostProbe;
  /** How printed commands name that machine. */
  readonly fix: FixContext;
  readonly journal: Journal;
  /** Loads a module on that machine (modprobe, on this one only). */
  loadModule(module: string): Promise<void>;
}

/** The host-facing dependencies of the binding commands. */
export interface BindingDeps {
  /**
   * The machine to act on: this one, `--sysfs DIR` as every command reads it (a sysfs tree or
   * a capture holding one as sys/), or `--emulated`; with the journal `--journal FILE` names
   * (default: under /run; in memory for --emulated). Rejects with a VfioUsageError (ENOTSYSFS)
   * when DIR is neither, (EISDIR) when the journal is a directory.
   */
  openTarget(command: string, where: { readonly sysfs?: string | undefined; readonly emulated?: boolean | undefined; readonly journal?: string | undefined }): Promise<BindingTarget>;
  /** The host's configuration files, for --persist and unpersist. */
  openConfigFs(): ConfigFs;
  /** Runs a command (update-initramfs, dracut, mkinitcpio), rejecting when it fails. */
  runCommand(argv: readonly string[]): Promise<void>;
}

const run = promisify(execFile);

/** The journal file --journal names; a directory given as --journal is the user's slip (exit 2). */
function openJournalFile(path: string | undefined): Journal {
  // Other failures of the file surface from host/journal.ts as failed operations (exit 1).
  if (path !== undefined && (path === "" || statSync(path, { throwIfNoEntry: false })?.isDirectory())) {
    throw new VfioUsageError(`--journal ${path === "" ? "needs a file" : `${path} is a directory`}: give the journal file, e.g. ${DEFAULT_JOURNAL_PATH}`, "EISDIR");
  }
  return fileJournal(path ?? DEFAULT_JOURNAL_PATH);
}

async function modprobe(module: string): Promise<void> {
  try {
    await run("modprobe", [module]);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    throw new VfioSystemError("exec", e.code === "ENOENT" ? errnoValue("ENOENT") : errnoValue("EIO"), "syscall",
      `modprobe ${module}`, e.stderr?.trim() || "modprobe failed", { cause: error });
  }
}

/**
 * The emulated machine starts as the guest's /init leaves it; bring it to the state the
 * journal records (its devices on vfio-pci) so that a `restore --emulated --journal FILE`
 * undoes the `bind --emulated --journal FILE` before it.
 */
async function replayJournal(sysfs: Sysfs, journal: Journal): Promise<void> {
  const bound = (await journal.entries()).filter((e) => e.sysfs === sysfs.description).map((e) => e.address);
  if (bound.length > 0) await executeBind(await planBind(sysfs, bound), { sysfs, journal: memoryJournal() });
}

/** The live machine: /sys (or --sysfs, or --emulated), the journal under /run, modprobe, /dev and /etc. */
export const defaultBindingDeps: BindingDeps = {
  async openTarget(command, where) {
    const machine = await openTargetMachine(command, where);
    const { env, probe, fix } = machine;
    const journal = machine.emulated !== undefined && where.journal === undefined ? memoryJournal() : openJournalFile(where.journal);
    if (machine.emulated !== undefined) await replayJournal(env.sysfs, journal);
    const loadModule = fix.live ? modprobe : async (module: string) => {
      throw new VfioUsageError(`${module} is not loaded in ${env.sysfs.description}: load it on that machine, or bind there`, "ENOENT");
    };
    return { sysfs: env.sysfs, env, probe, fix, journal, loadModule };
  },
  openConfigFs: () => nodeConfigFs("/"),
  async runCommand(argv) {
    try {
      await run(argv[0]!, argv.slice(1));
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      throw new VfioSystemError("exec", e.code === "ENOENT" ? errnoValue("ENOENT") : errnoValue("EIO"), "syscall",
        argv.join(" "), e.stderr?.trim().split("\n").pop() || "the command failed", { cause: error });
    }
  },
};

/** Joins a sysfs-relative path to the root for display: "/sys/bus/pci/drivers_probe". */
export function shownPath(sysfs: Sysfs, path: string): string {
  return `${sysfs.description.replace(/\/$/, "")}/${path}`;
}
