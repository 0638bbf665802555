/**
 * Compiles a benchmark's C baseline (bench/c/<name>.c) at bench time into a directory outside
 * the repo's sources: a shared library that the bench loads through koffi and calls in its own
 * process, on the same fd or mapping as the TS side (so the two alternate every few
 * milliseconds), or an executable where the baseline must be a process of its own. Shared
 * libraries link against the C library node itself uses, so they also load in the test guest,
 * whose initramfs carries node's libraries.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The bench/c directory (sources are read from the repo, not from dist/). */
export const cSourceDir = fileURLToPath(new URL("../../bench/c/", import.meta.url));

/**
 * Compiles `name`.c into `outDir` (default: a fresh temp dir) as an executable (statically
 * linked) or, with `shared`, as `name`.so; returns its path, or a reason it could not.
 */
export function compileC(name: string, outDir?: string, shared = false): { binary: string } | { skipped: string } {
  const dir = outDir ?? mkdtempSync(path.join(tmpdir(), "vfio-bench-"));
  mkdirSync(dir, { recursive: true });
  const binary = path.join(dir, shared ? `${name}.so` : name);
  const kind = shared ? ["-shared", "-fPIC"] : ["-static", "-pthread"];
  try {
    execFileSync("gcc", ["-O2", ...kind, "-o", binary, path.join(cSourceDir, `${name}.c`)], { stdio: ["ignore", "ignore", "pipe"] });
    return { binary };
  } catch (error) {
    return { skipped: `cannot compile the C baseline ${name}.c: ${(error as Error).message.split("\n")[0]}` };
  }
}
