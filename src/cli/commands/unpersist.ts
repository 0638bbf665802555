/**
 * `vfio unpersist [--dry-run]`: removes what `vfio bind --persist` wrote (and only that), and
 * rebuilds the initramfs if persisting did. The live binding stays; `vfio restore` undoes it.
 */
import { join } from "node:path";
import { PERSIST_RECORD, executeUnpersist, planUnpersist } from "../../host/persist.js";
import { defaultBindingDeps, type BindingDeps } from "../binding-deps.js";
import type { Command } from "../command.js";
import { toJson } from "../describe-device.js";
import { parseCommandArgs, usageError } from "../parse-args.js";

const usage = `usage: vfio unpersist [--dry-run] [--json]

Removes the files 'vfio bind --persist' created and the lines it added (as recorded in
${PERSIST_RECORD}), then rebuilds the initramfs if persisting did. Devices stay bound until
'vfio restore' or the next boot.

  --dry-run   print what would be removed and run, and change nothing
  --json      print the plan (remove, lines, regenerate) and whether it was carried out as JSON`;

/** `vfio unpersist` over `deps` (tests pass a fake kernel sysfs and an in-memory journal). */
export function unpersistCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "unpersist",
    summary: "stop 'vfio bind --persist' bindings from coming back at boot",
    usage,
    async run(args, io) {
      const { values, positionals } = parseCommandArgs("unpersist", args, { "dry-run": { type: "boolean" }, json: { type: "boolean" } });
      if (positionals.length > 0) throw usageError("unpersist", "unpersist takes no devices: it undoes every persisted binding");
      const fs = deps.openConfigFs();
      const shown = (path: string): string => (fs.root === "/" ? path : join(fs.root, path));
      const plan = await planUnpersist(fs);
      if (values.json) {
        const nothing = plan.remove.length === 0 && plan.lines.length === 0;
        if (!nothing && !values["dry-run"]) await executeUnpersist(fs, deps.runCommand);
        io.stdout.write(toJson({
          remove: plan.remove.map(shown), lines: plan.lines.map(({ path, lines }) => ({ path: shown(path), lines })),
          regenerate: plan.regenerate ?? null, done: !nothing && !values["dry-run"],
        }));
        return 0;
      }
      if (plan.remove.length === 0 && plan.lines.length === 0) {
        io.stdout.write("Nothing persisted by vfio-ts.\n");
        return 0;
      }
      for (const path of plan.remove) io.stdout.write(`remove ${shown(path)}\n`);
      for (const { path, lines } of plan.lines) io.stdout.write(`remove from ${shown(path)}: ${lines.join(", ")}\n`);
      if (plan.regenerate) io.stdout.write(`run ${plan.regenerate.join(" ")}\n`);
      if (values["dry-run"]) return 0;
      await executeUnpersist(fs, deps.runCommand);
      io.stdout.write("Done: nothing binds to vfio-pci at boot because of vfio-ts. The devices stay bound until 'vfio restore'.\n");
      return 0;
    },
  };
}

/** `vfio unpersist` on this machine. */
export const unpersist = unpersistCommand();
