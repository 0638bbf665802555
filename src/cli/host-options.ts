/**
 * Which machine a command acts on — this one, `--sysfs DIR`, or `--emulated` — with what
 * inspecting it needs (the environment, who holds files open) and the options that name it
 * again, so every command a command prints acts on that same machine. Also the options
 * `vfio ls` and `vfio check` share (--json, --pci-ids).
 */
import { join } from "node:path";
import { VfioUsageError } from "../api/errors.js";
import type { HostEnvironment } from "../api/host-environment.js";
import { LIVE_FIX_CONTEXT, type FixContext } from "../host/fix-action.js";
import { capturedHostProbe, idleHostProbe, nodeHostProbe, type HostProbe } from "../host/host-probe.js";
import { nodeHostEnvironment, resolveSysfsRoot } from "../host/node-host-environment.js";
import { nodeSysfs } from "../host/node-sysfs.js";
import { sysfsOnlyEnvironment } from "../host/sysfs-only-environment.js";
import { loadPciIds, type PciIds } from "../host/pci-ids.js";
import type { Machine } from "../emu/machine.js";
import { emulatedMachine } from "./emulated.js";
import { emulatedHostEnvironment } from "../emu/host-environment.js";
import { parseCommandArgs, usageError, type PositionalCount } from "./parse-args.js";

/** The machine a command inspects or changes. */
export interface TargetMachine {
  readonly env: HostEnvironment;
  /** Addresses, routes, mounts, swap and open files of that machine (a capture's proc/, or nothing). */
  readonly probe: HostProbe;
  /** How printed fixes name it. */
  readonly fix: FixContext;
  /** The emulated machine, for --emulated. */
  readonly emulated: Machine | undefined;
}

/**
 * The machine for `--sysfs DIR` / `--emulated` (neither: this one). A capture's proc/ answers
 * the probe, so its interfaces, mounts and VFIO users are the captured machine's, never this
 * one's; a bare sysfs tree has none. Rejects with a VfioUsageError (ENOTSYSFS) for a DIR that
 * is not a sysfs tree.
 */
export async function openTargetMachine(command: string, where: { readonly sysfs?: string | undefined; readonly emulated?: boolean | undefined }): Promise<TargetMachine> {
  if (where.emulated && where.sysfs !== undefined) throw usageError(command, "--emulated and --sysfs exclude each other");
  if (where.emulated) {
    const machine = emulatedMachine();
    return { env: emulatedHostEnvironment(machine), probe: idleHostProbe, fix: { vfioOptions: ["--emulated"], sysfs: undefined, live: false }, emulated: machine };
  }
  if (where.sysfs === undefined) {
    const env = nodeHostEnvironment();
    if ((await env.sysfs.list("bus/pci/devices")) === undefined) {
      throw new VfioUsageError("/sys/bus/pci/devices does not exist: is sysfs mounted on /sys? (or give --sysfs DIR, or --emulated)", "ENOTSYSFS");
    }
    return { env, probe: nodeHostProbe(), fix: LIVE_FIX_CONTEXT, emulated: undefined };
  }
  const { sys, machine } = await resolveSysfsRoot(where.sysfs);
  const live = machine === "/";
  const env = machine === undefined ? sysfsOnlyEnvironment(nodeSysfs({ root: sys })) : nodeHostEnvironment({ root: machine });
  const probe = live ? nodeHostProbe() : machine === undefined ? idleHostProbe : capturedHostProbe(join(machine, "proc"));
  return { env, probe, fix: { vfioOptions: live ? [] : ["--sysfs", where.sysfs], sysfs: sys, live }, emulated: undefined };
}

const HOST_OPTIONS = {
  sysfs: { type: "string" }, emulated: { type: "boolean" }, json: { type: "boolean" }, "pci-ids": { type: "string" },
} as const;

/** Parsed host options plus the positional arguments. */
export interface HostOptions {
  readonly env: HostEnvironment;
  /** `--html FILE`, for the commands that offer it (parseHostOptions' `html`). */
  readonly html: string | undefined;
  readonly target: TargetMachine;
  readonly json: boolean;
  readonly pciIds: PciIds;
  readonly positionals: readonly string[];
}

/** The usage lines of the shared options. */
export const HOST_OPTIONS_USAGE = [
  "  --sysfs DIR     inspect DIR instead of this machine's /sys: a sysfs tree, or a",
  "                  directory captured by scripts/capture-sysfs.sh (sys/, proc/, dev/)",
  "  --emulated      inspect the built-in emulated machine (the test guest's topology)",
  "  --json          print data as JSON instead of text",
  "  --pci-ids FILE  device names from FILE (default: /usr/share/misc/pci.ids when present)",
].join("\n");

/**
 * Parses `args` for `command` (through parse-args.ts); rejects unknown options and wrong
 * positional counts with a VfioUsageError, and a --sysfs DIR that is not a sysfs tree with one
 * coded ENOTSYSFS.
 */
export async function parseHostOptions(command: string, args: readonly string[], positionals: PositionalCount, offers: { html?: boolean } = {}): Promise<HostOptions> {
  const parsed = parseCommandArgs(command, args, offers.html ? { ...HOST_OPTIONS, html: { type: "string" } } : HOST_OPTIONS, positionals);
  const values = parsed.values as typeof parsed.values & { html?: string };
  if (values.html === "") throw usageError(command, "--html needs the file to write, e.g. --html topology.html");
  if (values.html !== undefined && values.json) throw usageError(command, "--html and --json exclude each other");
  const target = await openTargetMachine(command, { sysfs: values.sysfs, emulated: values.emulated });
  return {
    env: target.env,
    target,
    json: values.json === true,
    html: values.html,
    pciIds: await loadPciIds(values["pci-ids"]),
    positionals: parsed.positionals,
  };
}
