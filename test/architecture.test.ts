/**
 * Layer rules of DESIGN.md, enforced by reading the import specifiers of every source file:
 * api imports nothing of ours; backends (kernel, user, emu) never import one another (the one
 * exception: user/ may use kernel/'s OS primitives, listed below); nothing imports cli.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const srcRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

const allowed: Record<string, readonly string[]> = {
  api: [],
  abi: ["api"],
  host: ["api", "abi"],
  kernel: ["api", "abi"],
  user: ["api", "abi", "devices"],
  emu: ["api", "abi", "devices"],
  devices: ["api", "abi"],
  drivers: ["api"],
  cli: ["api", "abi", "host", "kernel", "user", "emu", "devices", "drivers"],
};
// user/ shares kernel/'s OS primitives (FFI, fds, memfd memory, eventfds, mmap views), never
// its VFIO objects: a vfio-user client needs the same memfd and eventfd a kernel user does.
const exceptions = new Set(
  ["ffi", "socket", "libc", "event-notifier", "process-memory", "region-mapping"].map((m) => `user -> kernel/${m}.js`),
);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

test("every import respects the layer rules", async () => {
  const violations: string[] = [];
  for (const file of await sourceFiles(srcRoot)) {
    const layer = path.relative(srcRoot, file).split(path.sep)[0]!;
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)) {
      const spec = match[1] ?? match[2]!;
      if (!spec.startsWith(".")) continue;
      const target = path.relative(srcRoot, path.resolve(path.dirname(file), spec));
      const targetLayer = target.split(path.sep)[0]!;
      if (targetLayer === layer) continue;
      const rest = target.split(path.sep).slice(1).join("/");
      if (exceptions.has(`${layer} -> ${targetLayer}/${rest}`)) continue;
      if (!(allowed[layer] ?? []).includes(targetLayer)) {
        violations.push(`${path.relative(srcRoot, file)} imports ${spec} (${layer} may not import ${targetLayer})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test("api imports no node: module but node:os (errors.ts's errno name table)", async () => {
  const violations: string[] = [];
  for (const file of await sourceFiles(path.join(srcRoot, "api"))) {
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)) {
      const spec = match[1] ?? match[2]!;
      if (spec.startsWith(".") || spec === "node:os") continue;
      violations.push(`${path.relative(srcRoot, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});

test("importing api, abi, host and emu does not load native code", async () => {
  const { execFileSync } = await import("node:child_process");
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
  const script = `
    const layers = ["api", "abi", "host", "emu"];
    for (const l of layers) { try { await import(${JSON.stringify(dist)} + "/" + l + "/index.js"); } catch (e) { if (e.code !== "ERR_MODULE_NOT_FOUND") throw e; } }
    const { createRequire } = await import("node:module");
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("koffi"));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), []);
});
