/** A `vfio` subcommand. The CLI is the only layer that prints, reads argv, or exits. */
export interface Command {
  readonly name: string;
  /** One line for `vfio --help`. */
  readonly summary: string;
  /** The full `vfio <name> --help` text. */
  readonly usage: string;
  /** Runs with the arguments after the command name; resolves with the exit status. */
  run(args: readonly string[], io: CommandIo): Promise<number>;
}

/** Where a command writes, so tests can capture it. */
export interface CommandIo {
  /** `columns`: the terminal's width, when stdout is one (tables fit it; style.ts). */
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}
