/**
 * The options `vfio ls` and `vfio check` share: which machine to inspect (--sysfs), how to
 * print (--json), and where names come from (--pci-ids).
 */
import { VfioUsageError } from "../api/errors.js";
import type { HostEnvironment } from "../api/host-environment.js";
import { hostEnvironmentForSysfs, nodeHostEnvironment } from "../host/node-host-environment.js";
import { loadPciIds, type PciIds } from "../host/pci-ids.js";
import { emulatedMachine } from "./emulated.js";
import { emulatedHostEnvironment } from "../emu/host-environment.js";
import { parseCommandArgs, usageError, type PositionalCount } from "./parse-args.js";

const HOST_OPTIONS = {
  sysfs: { type: "string" }, emulated: { type: "boolean" }, json: { type: "boolean" }, "pci-ids": { type: "string" },
} as const;

/** Parsed host options plus the positional arguments. */
export interface HostOptions {
  readonly env: HostEnvironment;
  /** `--html FILE`, for the commands that offer it (parseHostOptions' `html`). */
  readonly html: string | undefined;
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
  if (values.emulated && values.sysfs !== undefined) throw usageError(command, "--emulated and --sysfs exclude each other");
  const env = values.emulated
    ? emulatedHostEnvironment(emulatedMachine())
    : values.sysfs === undefined ? nodeHostEnvironment() : await hostEnvironmentForSysfs(values.sysfs);
  if (!values.emulated && values.sysfs === undefined && (await env.sysfs.list("bus/pci/devices")) === undefined) {
    throw new VfioUsageError("/sys/bus/pci/devices does not exist: is sysfs mounted on /sys? (or give --sysfs DIR, or --emulated)", "ENOTSYSFS");
  }
  return {
    env,
    json: values.json === true,
    html: values.html,
    pciIds: await loadPciIds(values["pci-ids"]),
    positionals: parsed.positionals,
  };
}
