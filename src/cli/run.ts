/**
 * Dispatches argv to a command and turns errors into what a user should see: one line on
 * stderr and exit status 2 for a usage error (VfioUsageError), one line and status 1 for a
 * failed operation (any other VfioError). Anything else is a bug in vfio-ts, not the user's
 * doing: it is rethrown, and Node prints its stack trace. Layers below the CLI wrap the
 * errors users can cause (bad paths, fs and socket failures) in VfioErrors for that reason;
 * test/cli/run.test.ts holds every command to it. With --json the error is JSON on stdout
 * instead (errorJson), with the same exit status, so a script reads one format.
 */
import { readFileSync } from "node:fs";
import { VfioError, VfioSystemError, VfioUsageError } from "../api/errors.js";
import type { Command, CommandIo } from "./command.js";
import { commands as allCommands } from "./commands/index.js";
import { toJson } from "./describe-device.js";
import { didYouMean } from "./did-you-mean.js";

/** The one line bare `vfio` prints on stderr. */
const USAGE_LINE = "usage: vfio <command> [options]; run 'vfio --help' for the commands";

/** The version in package.json (dist/src/cli/run.js sits three levels below it). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Whether argv asks for JSON: --json before any "--" (after which words are operands). */
function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

/**
 * An error as `--json` prints it: {"error": {code, message, usage, and for a failed system
 * call op, errno, target, hint}}; `usage` is true for the user's mistake (exit 2).
 */
export function errorJson(error: VfioError): { error: Record<string, unknown> } {
  const fields: Record<string, unknown> = { code: error.code, message: error.message, usage: error instanceof VfioUsageError };
  if (error instanceof VfioSystemError) {
    Object.assign(fields, { op: error.op, errno: error.errno, target: error.target ?? null, hint: error.hint ?? null });
  }
  return { error: fields };
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
    "'vfio --version' for the version. Exit status: 0 done, 1 a failed operation (or 'not",
    "ready'), 2 a usage error. With --json, an error is printed on stdout as",
    "{\"error\": {\"code\", \"message\", \"usage\", and \"op\", \"errno\", \"target\", \"hint\"",
    "for a failed system call}}, with the same exit status.",
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
    const message = `unknown command '${what}'${didYouMean(what, commands.map((c) => c.name))}; run 'vfio --help' for the list`;
    if (wantsJson(args)) io.stdout.write(toJson(errorJson(new VfioUsageError(message, "EUSAGE"))));
    else io.stderr.write(`vfio: ${message}\n`);
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
    if (!(error instanceof VfioError)) throw error;
    if (wantsJson(args)) io.stdout.write(toJson(errorJson(error)));
    else io.stderr.write(`vfio ${name}: ${error.message}\n`);
    return error instanceof VfioUsageError ? 2 : 1;
  }
}
