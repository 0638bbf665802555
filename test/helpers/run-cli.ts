/** Runs `vfio` in-process with captured output, as a user would see it. */
import { runCli } from "../../src/cli/run.js";

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv; `tty` makes stdout claim to be a terminal (colour) of `columns` (tables fit it). */
export async function vfio(argv: readonly string[], options: { tty?: boolean; columns?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const status = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false, ...(options.columns === undefined ? {} : { columns: options.columns }) },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: options.env ?? {},
  });
  return { status, stdout, stderr };
}
