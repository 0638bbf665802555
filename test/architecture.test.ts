/**
 * The layer rules of docs/architecture.md, enforced by reading the import specifiers of every
 * source file: api imports nothing of ours; backends (kernel, user, emu) never import one
 * another, and the OS facilities both kernel/ and user/ need (fds, mmap, memfd, eventfds,
 * sockets) live in native/, below them; nothing imports cli; and no file imports itself back
 * through a circle of imports, type-only ones included.
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
  native: ["api", "abi"],
  kernel: ["api", "abi", "native"],
  uio: ["api", "abi", "native"],
  user: ["api", "abi", "devices", "native"],
  emu: ["api", "abi", "devices"],
  devices: ["api", "abi"],
  drivers: ["api"],
  cli: ["api", "abi", "host", "native", "kernel", "user", "emu", "devices", "drivers", "uio"],
};

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
      if (!(allowed[layer] ?? []).includes(targetLayer)) {
        violations.push(`${path.relative(srcRoot, file)} imports ${spec} (${layer} may not import ${targetLayer})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

/** The source files each source file imports (relative specifiers, type-only imports included). */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles(srcRoot)) {
    const text = await readFile(file, "utf8");
    const targets: string[] = [];
    for (const match of text.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)) {
      const spec = match[1] ?? match[2]!;
      if (spec.startsWith(".")) targets.push(path.resolve(path.dirname(file), spec).replace(/\.js$/, ".ts"));
    }
    graph.set(file, targets);
  }
  return graph;
}

test("no import circles: every module can be understood from the ones below it", async () => {
  const graph = await importGraph();
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") circles.push(stack.slice(stack.indexOf(next)).concat(next).map((f) => path.relative(srcRoot, f)).join(" → "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  // Known and owned elsewhere: the NVMe driver's namespace takes its controller by type.
  const known = new Set(["drivers/nvme/controller.ts → drivers/nvme/namespace.ts → drivers/nvme/controller.ts"]);
  assert.deepEqual(circles.filter((c) => !known.has(c)), []);
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

test("importing api, abi, host, emu and user does not load native code", async () => {
  const { execFileSync } = await import("node:child_process");
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
  const script = `
    const layers = ["api", "abi", "host", "emu", "user"];
    for (const l of layers) { try { await import(${JSON.stringify(dist)} + "/" + l + "/index.js"); } catch (e) { if (e.code !== "ERR_MODULE_NOT_FOUND") throw e; } }
    const { createRequire } = await import("node:module");
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("koffi"));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), []);
});
