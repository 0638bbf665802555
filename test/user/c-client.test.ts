/**
 * The server against clients written in C: bench/c/vfio-user-check.c speaks as libvfio-user's
 * sample client does (VERSION 0.2, region info with the argsz retry, one-page DMA maps of one
 * file at offsets with the fd, SET_IRQS with a blocking eventfd, DMA logging, UNMAP), and
 * bench/c/vfio-user-bench.c pipelines REGION_READs. Skipped without gcc.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { serve, tempDir } from "./loopback.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let gcc: string | false = false;
try {
  execFileSync("gcc", ["--version"], { stdio: "ignore" });
} catch {
  gcc = "gcc is not installed";
}
const run = promisify(execFile);

function compile(dir: string, name: string): string {
  const out = path.join(dir, name);
  execFileSync("gcc", ["-O2", "-Wall", "-Werror", "-o", out, path.join(repo, "bench/c", `${name}.c`)]);
  return out;
}

test("a C client speaking as libvfio-user's sample client does runs its whole sequence against the served edu", { skip: gcc }, async (t) => {
  const dir = tempDir(t);
  const check = compile(dir, "vfio-user-check");
  const { server, socketPath } = await serve(t);
  const { stdout } = await run(check, [socketPath], { timeout: 10_000 });
  assert.equal(stdout.trim(), "ok");
  while (server.session) await new Promise((r) => setTimeout(r, 5));
  assert.equal(server.served, 1);
});

test("the C benchmark client reads 8 bytes with 16 in flight and every reply checks out", { skip: gcc }, async (t) => {
  const dir = tempDir(t);
  const bench = compile(dir, "vfio-user-bench");
  const { socketPath } = await serve(t);
  const { stdout } = await run(bench, [socketPath, "read", "0", "0x80", "8", "0.1", "16"], { timeout: 10_000 });
  assert.match(stdout, /ops=[1-9]\d* seconds=/);
});
