import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vfio } from "../helpers/run-cli.js";
import { commands } from "../../src/cli/commands/index.js";
import { fixturePath, repoPath } from "../helpers/fixtures.js";

const capture0 = fixturePath("sysfs/guest-q35-e1000-bound");
const dir = mkdtempSync(join(tmpdir(), "vfio-run-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const noJournal = join(dir, "journal.json");
const regularFile = join(dir, "file");
writeFileSync(regularFile, "");

/** A socket file nobody listens on: a server that died without removing it (SIGKILL). */
function staleSocket(): string {
  const path = join(dir, "stale.sock");
  spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`]);
  return path;
}
const stale = staleSocket();

/** [argv, exit status]: every command with a bad option, a bad address, a bad --sysfs, --journal or --socket. */
const cases: readonly (readonly [readonly string[], number])[] = [
  // A bad option, for every command.
  ...commands.map((c) => [[c.name, "--bogus"], 2] as const),
  [["bind", "--timeout", "-5", "00:03.0"], 2],
  [["ls", "--json=yes"], 2],
  [["demo", "extra"], 2],
  [["ls", "extra"], 2],
  [["serve", "edu", "extra", "--socket", join(dir, "x.sock")], 2],
  [["info", "--no-fds", "00:03.0"], 2],
  // A bad address.
  [["check", "00:20.0", "--sysfs", capture0], 2],
  [["info", "zz"], 2],
  [["info", "00:20.0"], 2],
  [["bind", "--dry-run", "--sysfs", capture0, "zz"], 2],
  [["restore", "--dry-run", "--sysfs", capture0, "--journal", noJournal, "zz"], 2],
  [["passthrough", "--qemu", "--sysfs", capture0, "zz"], 2],
  // --sysfs that is not a sysfs tree.
  ...["ls", "check 00:03.0", "bind --dry-run 00:03.0", "restore --dry-run", "passthrough --qemu 00:03.0"].flatMap((c) => [
    [[...c.split(" "), "--sysfs", "/nonexistent-vfio-ts"], 2] as const,
    [[...c.split(" "), "--sysfs", fixturePath("pci-ids")], 2] as const,
    [[...c.split(" "), "--sysfs="], 2] as const,
  ]),
  // --journal that is a directory.
  [["bind", "--dry-run", "--sysfs", capture0, "--journal", dir, "0000:00:03.0"], 2],
  [["restore", "--dry-run", "--sysfs", capture0, "--journal", dir], 2],
  // --socket that does not exist, is a directory, a regular file, or a stale socket file.
  [["info", "--socket", join(dir, "none.sock")], 1],
  [["info", "--socket", dir], 2],
  [["info", "--socket", regularFile], 2],
  [["info", "--socket", stale], 1],
  [["serve", "edu", "--socket", join(dir, "missing", "edu.sock")], 2],
  [["serve", "edu", "--socket", dir], 2],
  [["serve", "edu", "--socket", regularFile], 2],
  [["serve", "edu", "--socket", stale], 1],
];

test("every command answers bad input with exactly one stderr line, no stack trace, and exit 2 (1 for a failed operation)", async () => {
  for (const [argv, status] of cases) {
    const what = argv.join(" ");
    const c = await vfio(argv);
    assert.equal(c.status, status, `${what}\n${c.stderr}`);
    assert.match(c.stderr, new RegExp(`^vfio ${argv[0]}: [^\n]+\n$`), what);
    assert.doesNotMatch(c.stderr, /\n\s+at /, what);
  }
});

test("the stale socket message says how to recover", async () => {
  const c = await vfio(["serve", "edu", "--socket", stale]);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /EADDRINUSE: a stale socket file .*rm /);
});

test("bare vfio prints one usage line on stderr, exit 2; --help the overview on stdout, exit 0", async () => {
  const bare = await vfio([]);
  assert.equal(bare.status, 2);
  assert.equal(bare.stdout, "");
  assert.match(bare.stderr, /^usage: vfio <command> [^\n]*\n$/);
  for (const argv of [["--help"], ["-h"], ["help"]]) {
    const c = await vfio(argv);
    assert.equal(c.status, 0);
    assert.equal(c.stderr, "");
    for (const command of commands) assert.match(c.stdout, new RegExp(`^  ${command.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  }
});

test("vfio help <command> prints that command's help; an unknown one is a usage error", async () => {
  for (const command of commands) {
    const viaHelp = await vfio(["help", command.name]);
    const viaFlag = await vfio([command.name, "--help"]);
    assert.equal(viaHelp.status, 0);
    assert.equal(viaFlag.status, 0);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
    assert.match(viaHelp.stdout, new RegExp(`^usage: vfio ${command.name}`));
  }
  for (const argv of [["help", "nope"], ["nope"]]) {
    const c = await vfio(argv);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /^vfio: unknown command 'nope'[^\n]*\n$/);
  }
});

test("vfio --version prints package.json's version", async () => {
  const { version } = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version: string };
  const c = await vfio(["--version"]);
  assert.equal(c.status, 0);
  assert.equal(c.stdout, `vfio-ts ${version}\n`);
});
