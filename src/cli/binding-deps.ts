/**
 * What `vfio bind`, `vfio restore` and `vfio unpersist` act on, injectable so tests run the real
 * commands against a fake kernel sysfs: by default the live /sys, /proc, /dev, the journal
 * under /run and modprobe.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { DEFAULT_JOURNAL_PATH, fileJournal, type Journal } from "../host/journal.js";
import { nodeHostProbe, type HostProbe } from "../host/host-probe.js";
import { nodeSysfs } from "../host/node-sysfs.js";
import { nodeConfigFs, type ConfigFs } from "../host/persist.js";

export interface BindingDeps {
  openSysfs(root: string | undefined): Sysfs;
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

export const defaultBindingDeps: BindingDeps = {
  openSysfs: (root) => nodeSysfs(root === undefined ? {} : { root }),
  openJournal: (path) => fileJournal(path ?? DEFAULT_JOURNAL_PATH),
  probe: nodeHostProbe(),
  async loadModule(module) {
    try {
      await run("modprobe", [module]);
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      throw new VfioSystemError("open", e.code === "ENOENT" ? errnoValue("ENOENT") : errnoValue("EIO"), "syscall",
        `module ${module}`, e.stderr?.trim() || "modprobe failed", { cause: error });
    }
  },
  devRoot: "/dev",
  openConfigFs: () => nodeConfigFs("/"),
  async runCommand(argv) {
    try {
      await run(argv[0]!, argv.slice(1));
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      throw new VfioSystemError("open", e.code === "ENOENT" ? errnoValue("ENOENT") : errnoValue("EIO"), "syscall",
        argv.join(" "), e.stderr?.trim().split("\n").pop() || "the command failed", { cause: error });
    }
  },
};

/** Joins a sysfs-relative path to the root for display: "/sys/bus/pci/drivers_probe". */
export function shownPath(sysfs: Sysfs, path: string): string {
  return `${sysfs.description.replace(/\/$/, "")}/${path}`;
}
