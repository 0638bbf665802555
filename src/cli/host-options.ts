/**
 * The options `vfio ls` and `vfio check` share: which machine to inspect (--sysfs), how to
 * print (--json), and where names come from (--pci-ids).
 */
import { parseArgs } from "node:util";
import { VfioUsageError } from "../api/errors.js";
import type { HostEnvironment } from "../api/host-environment.js";
import { hostEnvironmentForSysfs, nodeHostEnvironment } from "../host/node-host-environment.js";
import { loadPciIds, type PciIds } from "../host/pci-ids.js";
import { emulatedMachine } from "./emulated.js";
import { emulatedHostEnvironment } from "../emu/host-environment.js";

/** Parsed host options plus the positional arguments. */
export interface HostOptions {
  readonly env: HostEnvironment;
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
 * Parses `args` for `command`; rejects unknown options and wrong positional counts with a
 * VfioUsageError.
 */
export async function parseHostOptions(command: string, args: readonly string[], positionals: { min: number; max: number; name: string }): Promise<HostOptions> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { sysfs: { type: "string" }, emulated: { type: "boolean" }, json: { type: "boolean" }, "pci-ids": { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // node:util parseArgs errors (ERR_PARSE_ARGS_*) are the user's: one line, exit 2.
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new VfioUsageError(`${message}; run 'vfio ${command} --help'`, "EUSAGE", { cause: error });
  }
  const { values } = parsed;
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    const expected = positionals.max === 0 ? "no arguments" : positionals.min === positionals.max ? `one ${positionals.name}` : `at most one ${positionals.name}`;
    throw new VfioUsageError(`expected ${expected}; run 'vfio ${command} --help'`, "EUSAGE");
  }
  if (values.sysfs === "") throw new VfioUsageError(`--sysfs needs a directory; run 'vfio ${command} --help'`, "EUSAGE");
  if (values.emulated && values.sysfs !== undefined) throw new VfioUsageError(`--emulated and --sysfs exclude each other; run 'vfio ${command} --help'`, "EUSAGE");
  const env = values.emulated
    ? emulatedHostEnvironment(emulatedMachine())
    : values.sysfs === undefined ? nodeHostEnvironment() : await hostEnvironmentForSysfs(values.sysfs);
  if (!values.emulated && values.sysfs === undefined && (await env.sysfs.list("bus/pci/devices")) === undefined) {
    throw new VfioUsageError("/sys/bus/pci/devices does not exist: is sysfs mounted on /sys? (or give --sysfs DIR, or --emulated)", "ENOTSYSFS");
  }
  return {
    env,
    json: values.json === true,
    pciIds: await loadPciIds(values["pci-ids"]),
    positionals: parsed.positionals,
  };
}
