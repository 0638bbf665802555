/**
 * The package as a new user gets it: `npm pack` of this checkout (dist/ is built by npm test;
 * package.json's prepare builds it on a fresh clone), its file list and the bin's mode, then an
 * install of the tarball into a fresh project, with no network: the runtime dependencies come
 * from this checkout's node_modules, packed and put in place by "overrides". The installed
 * `vfio` runs, and examples/ type-check against the installed package's published types with
 * examples/tsconfig.json and run, as a consumer's code would.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { repoPath } from "../helpers/fixtures.js";

interface PackedFile {
  readonly path: string;
  readonly mode: number;
}
interface PackResult {
  readonly filename: string;
  readonly files: readonly PackedFile[];
}

const root = repoPath("");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string; bin: Record<string, string>; exports: Record<string, Record<string, string>>; scripts: Record<string, string>;
};
const hasNpm = spawnSync("npm", ["--version"], { encoding: "utf8" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "vfio-package-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

/** The environment without npm's own variables (npm test sets npm_config_*, which would steer the inner npm). */
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: "utf8", env, timeout: 180_000, ...options });
  assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.error ?? ""}\n${String(r.stdout)}\n${String(r.stderr)}`);
  return String(r.stdout);
}

/** `npm pack` of `dir` into the work directory, without scripts (dist/ is already built). */
function pack(dir: string): PackResult {
  const [result] = JSON.parse(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work, dir])) as PackResult[];
  return result!;
}

const skip = hasNpm ? false : "npm is not on PATH";

test("npm pack ships the built package: bin executable, every export, LICENSE, and the sources its maps name", { skip }, () => {
  assert.match(pkg.scripts["prepare"] ?? pkg.scripts["prepack"] ?? "", /npm run build/, "a fresh clone's npm pack builds dist/ first");
  const { files } = pack(root);
  const paths = new Set(files.map((f) => f.path));
  for (const [name, target] of Object.entries(pkg.bin)) {
    const file = files.find((f) => f.path === normalize(target));
    assert.ok(file, `bin ${name} (${target}) is packed`);
    assert.equal(file.mode & 0o111, 0o111, `bin ${name} is executable in the tarball`);
    // The bin is a committed file outside dist/: `npm run build` (rm -rf dist) cannot take its mode.
    assert.ok(!target.includes("dist/"), `bin ${name} lives outside dist/`);
    assert.equal(statSync(join(root, target)).mode & 0o111, 0o111, `bin ${name} is executable in the checkout`);
  }
  for (const [subpath, conditions] of Object.entries(pkg.exports)) {
    for (const target of Object.values(conditions)) assert.ok(paths.has(normalize(target)), `export ${subpath}: ${target} is packed`);
  }
  assert.ok(paths.has("LICENSE"));
  assert.ok(![...paths].some((p) => p.startsWith("dist/test/") || p.startsWith("dist/bench/")), "no tests or benchmarks");
  const maps = [...paths].filter((p) => p.endsWith(".js.map"));
  assert.ok(maps.length > 0);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(root, map), "utf8")) as { sources: string[] };
    for (const source of sources) assert.ok(paths.has(normalize(join(dirname(map), source))), `${map} names ${source}, which is packed`);
  }
});

test("the tarball installs offline into a fresh project: vfio runs, and examples/ type-check and run", { skip }, () => {
  const tarball = join(work, pack(root).filename);
  // Runtime dependencies (package-lock entries not marked dev), packed from node_modules.
  // Optional ones (koffi's per-platform builds) only where this machine installed them.
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
  const overrides: Record<string, string> = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev || (entry.optional && !existsSync(join(root, path, "package.json")))) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    overrides[name] = `file:${join(work, pack(join(root, path)).filename)}`;
  }
  assert.ok("koffi" in overrides && "@types/node" in overrides, Object.keys(overrides).join(", "));
  const app = join(work, "app");
  run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies: { "vfio-ts": `file:${tarball}` }, overrides }));
  run("npm", ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: app });

  assert.equal(run(join(app, "node_modules/.bin/vfio"), ["--version"]), `vfio-ts ${pkg.version}\n`);

  const examples = readdirSync(repoPath("examples")).filter((f) => f.endsWith(".ts"));
  assert.ok(examples.length > 0);
  for (const file of [...examples, "tsconfig.json"]) copyFileSync(repoPath(`examples/${file}`), join(app, file));
  run(process.execPath, [repoPath("node_modules/typescript/bin/tsc"), "-p", app]);
  assert.equal(run(process.execPath, [join(app, "dist/drive-edu.js")], { cwd: app }), "3628800\n");
});
