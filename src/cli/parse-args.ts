/**
 * The one option parser of every `vfio` command: node:util parseArgs (strict, positionals
 * allowed) with its ERR_PARSE_ARGS_* errors turned into one short line that ends with
 * "run 'vfio <cmd> --help'" (run.ts prints it, exit 2). Node's own messages are multi-line
 * and quote the argument unevenly; users see ours instead.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { VfioUsageError } from "../api/errors.js";
import { didYouMean } from "./did-you-mean.js";

/** The option table of a command, as node:util parseArgs takes it. */
export type OptionTable = NonNullable<ParseArgsConfig["options"]>;

/** How many positional arguments a command takes, and what to call one in the message. */
export interface PositionalCount {
  readonly min: number;
  readonly max: number;
  readonly name: string;
}

/**
 * A usage error that points at the command's help: "<message>; run 'vfio <command> --help'".
 *
 * @example
 * throw usageError("bind", "--timeout wants a positive number of milliseconds, not '0'");
 */
export function usageError(command: string, message: string, code = "EUSAGE", options?: ErrorOptions): VfioUsageError {
  return new VfioUsageError(`${message}; run 'vfio ${command} --help'`, code, options);
}

/** The first quoted option name in a node:util message ("Unknown option '--bogus'. …" → "--bogus"). */
function quoted(message: string): string | undefined {
  return /'(-[^' ]+)/.exec(message)?.[1];
}

/** One short line for a node:util parseArgs error, by its code (lib/internal/util/parse_args). */
function shortMessage(error: unknown, options: OptionTable): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = quoted(message);
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return option === undefined
        ? `unknown option ${message.split("\n")[0]}`
        : `unknown option ${option}${didYouMean(option, Object.keys(options).map((name) => `--${name}`))}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ""}`.trimEnd();
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(message)) return `${option} takes no value`;
      if (/ambiguous/.test(message)) return `${option} needs a value; for one that starts with '-', write ${option}=VALUE`;
      return `${option ?? "an option"} needs a value`;
    default:
      return message.split("\n")[0]!;
  }
}

/**
 * Parses `args` of `vfio <command>` against `options`; rejects unknown options, missing or
 * ambiguous values, and a positional count outside `positionals` with a one-line
 * VfioUsageError (code EUSAGE).
 *
 * @example
 * const { values, positionals } = parseCommandArgs("bind", args, { "dry-run": { type: "boolean" } }, { min: 1, max: Infinity, name: "device" });
 */
export function parseCommandArgs<const T extends OptionTable>(
  command: string,
  args: readonly string[],
  options: T,
  positionals?: PositionalCount,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(command, shortMessage(error, options), "EUSAGE", { cause: error });
  }
  if (positionals && (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max)) {
    const { min, max, name } = positionals;
    const expected = max === 0 ? "no arguments"
      : min === max ? `one ${name}`
      : max === Infinity ? `at least one ${name}`
      : `at most one ${name}`;
    throw usageError(command, `expected ${expected}`);
  }
  return parsed;
}

/** The --timeout value of `command` in milliseconds; rejects anything but a positive integer. */
export function parseTimeout(command: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) throw usageError(command, `--timeout wants a positive number of milliseconds, not '${text}'`);
  return ms;
}
