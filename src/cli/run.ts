/**
 * Dispatches argv to a command and turns errors into what a user should see: one line on
 * stderr and exit status 2 for a usage error, one line and status 1 for a failed operation,
 * a stack trace only for a bug.
 */
import { VfioError, VfioUsageError } from "../api/errors.js";
import type { Command, CommandIo } from "./command.js";
import { commands as allCommands } from "./commands/index.js";

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
    "Run 'vfio <command> --help' for a command's options.",
    "",
  ].join("\n");
}

export async function runCli(argv: readonly string[], io: CommandIo, commands: readonly Command[] = allCommands): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(overview(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`vfio: unknown command '${name}'; run 'vfio --help' for the list\n`);
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(command.usage.endsWith("\n") ? command.usage : `${command.usage}\n`);
    return 0;
  }
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
