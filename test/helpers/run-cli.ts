/** Runs `vfio` in-process with captured output, as a user would see it. */
import { runCli } from "../../src/cli/run.js";

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv; `tty` makes stdout claim to be a terminal (colour). */
export async function vfio(argv: readonly string[], options: { tty?: boolean; env?: Record<string, string> } = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const status = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: options.env ?? {},
  });
  return { status, stdout, stderr };
}
