/**
 * What `vfio bind`, `vfio restore`, `vfio unpersist` and `vfio passthrough` act on, injectable
 * so tests run the real commands against a fake kernel sysfs: by default the live /sys, /proc,
 * /dev, the journal under /run and modprobe.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { statSync } from "node:fs";
import { VfioSystemError, VfioUsageError, errnoValue } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { DEFAULT_JOURNAL_PATH, fileJournal, type Journal } from "../host/journal.js";
import { nodeHostProbe, type HostProbe } from "../host/host-probe.js";
import { nodeSysfs } from "../host/node-sysfs.js";
import { resolveSysfsRoot } from "../host/node-host-environment.js";
import { nodeConfigFs, type ConfigFs } from "../host/persist.js";

/** The host-facing dependencies of the binding commands. */
export interface BindingDeps {
  /**
   * The sysfs to act on: /sys, or `--sysfs DIR` as every command reads it (a sysfs tree or a
   * capture holding one as sys/; host/node-host-environment.ts resolveSysfsRoot). Rejects with
   * a VfioUsageError (ENOTSYSFS) when DIR is neither.
   */
  openSysfs(dir: string | undefined): Promise<Sysfs>;
  /** The journal: --journal FILE, or the default under /run. A directory is a VfioUsageError. */
  openJournal(path: string | undefined): Journal;
  readonly probe: HostProbe;
  loadModule(module: string): Promise<void>;
  /** Where /dev/vfio lives, for the open-group check. */
  readonly devRoot: string;
  /** The host's configuration files, for --persist and unpersist. */
  openConfigFs(): ConfigFs;
  /** Runs a command (update-initramfs, dracut, mkinitcpio), rejecting when it fails. */
  runCommand(argv: readonly string[]): Promise<void>;
}

const run = promisify(execFile);

/** The live machine: /sys (or --sysfs), the journal under /run, modprobe, /dev and /etc. */
export const defaultBindingDeps: BindingDeps = {
  openSysfs: async (dir) => nodeSysfs(dir === undefined ? {} : { root: (await resolveSysfsRoot(dir)).sys }),
  openJournal(path) {
    // A directory given as --journal is the user's slip (exit 2); other failures of the file
    // surface from host/journal.ts as failed operations (exit 1).
    if (path !== undefined && (path === "" || statSync(path, { throwIfNoEntry: false })?.isDirectory())) {
      throw new VfioUsageError(`--journal ${path === "" ? "needs a file" : `${path} is a directory`}: give the journal file, e.g. ${DEFAULT_JOURNAL_PATH}`, "EISDIR");
    }
    return fileJournal(path ?? DEFAULT_JOURNAL_PATH);
  },
  probe: nodeHostProbe(),
  async loadModule(module) {
    try {
      await run("modprobe", [module]);
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      throw new VfioSystemError("exec", e.code === "ENOENT" ? errnoValue("ENOENT") : errnoValue("EIO"), "syscall",
        `modprobe ${module}`, e.stderr?.trim() || "modprobe failed", { cause: error });
    }
  },
  devRoot: "/dev",
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
