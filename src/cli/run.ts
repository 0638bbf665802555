/**
 * Dispatches argv to a command and turns errors into what a user should see: one line on
 * stderr and exit status 2 for a usage error (VfioUsageError), one line and status 1 for a
 * failed operation (any other VfioError). Anything else is a bug in vfio-ts, not the user's
 * doing: it is rethrown, and Node prints its stack trace. Layers below the CLI wrap the
 * errors users can cause (bad paths, fs and socket failures) in VfioErrors for that reason;
 * test/cli/run.test.ts holds every command to it.
 */
import { readFileSync } from "node:fs";
import { VfioError, VfioUsageError } from "../api/errors.js";
import type { Command, CommandIo } from "./command.js";
import { commands as allCommands } from "./commands/index.js";

/** The one line bare `vfio` prints on stderr. */
const USAGE_LINE = "usage: vfio <command> [options]; run 'vfio --help' for the commands";

/** The version in package.json (dist/src/cli/run.js sits three levels below it). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** `vfio --help`: every command with its summary. */
function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "usage: vfio <command> [options]",
    "",
    "VFIO for TypeScript: inspect IOMMU groups, prepare devices, drive them from Node.js.",
    "",
    "commands:",
    ...lines,
    "",
    "Run 'vfio help <command>' (or 'vfio <command> --help') for a command's options,",
    "'vfio --version' for the version.",
    "",
  ].join("\n");
}

/**
 * Runs `vfio` with `argv` (the arguments after the program name), writing to `io`; resolves
 * with the exit status: 0 done, 1 a failed operation (or "not ready" from check), 2 a usage
 * error. `vfio`, `vfio --help`, `vfio help <command>` and `vfio --version` are handled here.
 */
export async function runCli(argv: readonly string[], io: CommandIo, commands: readonly Command[] = allCommands): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr.write(`${USAGE_LINE}\n`);
    return 2;
  }
  if (name === "--version" || name === "-V") {
    io.stdout.write(`vfio-ts ${version()}\n`);
    return 0;
  }
  const unknown = (what: string): number => {
    io.stderr.write(`vfio: unknown command '${what}'; run 'vfio --help' for the list\n`);
    return 2;
  };
  const usageOf = (command: Command): number => {
    io.stdout.write(command.usage.endsWith("\n") ? command.usage : `${command.usage}\n`);
    return 0;
  };
  if (name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? args[0] : undefined;
    if (topic === undefined) {
      io.stdout.write(overview(commands));
      return 0;
    }
    const command = commands.find((c) => c.name === topic);
    return command ? usageOf(command) : unknown(topic);
  }
  const command = commands.find((c) => c.name === name);
  if (!command) return unknown(name);
  if (args.includes("--help") || args.includes("-h")) return usageOf(command);
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof VfioUsageError) {
      io.stderr.write(`vfio ${name}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof VfioError) {
      io.stderr.write(`vfio ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
