/**
 * What host inspection reads beyond sysfs, behind one interface so that a live machine, a
 * captured fixture (scripts/capture-sysfs.sh) and the emulated machine answer alike.
 */
import type { Sysfs } from "./sysfs.js";

/** One entry of /dev/vfio: a group node ("5"), the container node ("vfio"), or "devices". */
export interface DevNode {
  readonly name: string;
  /** "c" character device, "d" directory, "-" anything else. */
  readonly type: "c" | "d" | "-";
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A machine as host inspection sees it: sysfs, a few procfs files, and /dev/vfio.
 * Paths are relative to the mount point: `readProc("cmdline")` reads /proc/cmdline.
 */
export interface HostEnvironment {
  /** For messages: "/", a fixture directory, "emulated machine". */
  readonly description: string;
  readonly sysfs: Sysfs;
  /**
   * A procfs file: "cmdline", "interrupts", "self/limits", "self/status",
   * "sys/kernel/osrelease". Undefined when it is absent. "self" is the inspecting process
   * (or, for a fixture, the shell that captured it).
   */
  readProc(path: string): Promise<string | undefined>;
  /** The entries of /dev/vfio, or undefined when /dev/vfio does not exist. */
  listDevVfio(): Promise<readonly DevNode[] | undefined>;
}
