/**
 * Compiles a benchmark's C baseline (bench/c/<name>.c) at bench time into a directory outside
 * the repo's sources, statically linked so the binary also runs inside the test guest, which has
 * no C library of its own to offer beyond node's.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The bench/c directory (sources are read from the repo, not from dist/). */
export const cSourceDir = fileURLToPath(new URL("../../bench/c/", import.meta.url));

/** Compiles `name`.c into `outDir` (default: a fresh temp dir); returns the binary's path, or a reason it could not. */
export function compileC(name: string, outDir?: string): { binary: string } | { skipped: string } {
  const dir = outDir ?? mkdtempSync(path.join(tmpdir(), "vfio-bench-"));
  mkdirSync(dir, { recursive: true });
  const binary = path.join(dir, name);
  try {
    execFileSync("gcc", ["-O2", "-static", "-pthread", "-o", binary, path.join(cSourceDir, `${name}.c`)], { stdio: ["ignore", "ignore", "pipe"] });
    return { binary };
  } catch (error) {
    return { skipped: `cannot compile the C baseline ${name}.c: ${(error as Error).message.split("\n")[0]}` };
  }
}
