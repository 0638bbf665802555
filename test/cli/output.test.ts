/**
 * What a user sees of errors and data: quiet on a closed pipe, errors as JSON under --json,
 * did-you-mean, tables that fit a terminal, --emulated in the usage lines that accept it,
 * "unlimited" memlock, and --json on the commands whose output is data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { commands } from "../../src/cli/commands/index.js";
import { bindCommand } from "../../src/cli/commands/bind.js";
import { passthroughCommand } from "../../src/cli/commands/passthrough.js";
import { restoreCommand } from "../../src/cli/commands/restore.js";
import { unpersistCommand } from "../../src/cli/commands/unpersist.js";
import { closest, editDistance } from "../../src/cli/did-you-mean.js";
import { formatTable } from "../../src/cli/style.js";
import { memoryJournal } from "../../src/host/journal.js";
import { idleHostProbe } from "../../src/host/host-probe.js";
import { fixturePath, repoPath } from "../helpers/fixtures.js";
import { vfio } from "../helpers/run-cli.js";
import { captureIo, deps, fakeMachine } from "./commands/binding-fixture.js";

const guest = fixturePath("sysfs/guest-q35-e1000-bound");

test("vfio demo | head -1: the first line, then a quiet exit 0 (no EPIPE trace)", () => {
  // pipefail: the status is vfio's, not head's.
  const r = spawnSync("bash", ["-c", `set -o pipefail; "${process.execPath}" "${repoPath("bin/vfio.js")}" demo | head -1; echo "status $?"`], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^vfio demo: VFIO on the emulated machine\nstatus 0\n$/);
  // A reader gone before the first write (true reads nothing): every write fails with EPIPE.
  const gone = spawnSync("bash", ["-c", `set -o pipefail; "${process.execPath}" "${repoPath("bin/vfio.js")}" demo | true`], { encoding: "utf8", timeout: 60_000 });
  assert.equal(gone.stderr, "");
  assert.equal(gone.status, 0);
});

test("with --json an error is JSON on stdout, with the exit status it has without", async () => {
  const usage = await vfio(["ls", "--json", "--sysfs", "/nonexistent-vfio-ts"]);
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, "");
  assert.deepEqual(Object.keys(JSON.parse(usage.stdout)), ["error"]);
  assert.equal(JSON.parse(usage.stdout).error.code, "ENOTSYSFS");
  assert.equal(JSON.parse(usage.stdout).error.usage, true);
  const failed = await vfio(["info", "--json", "--socket", join(tmpdir(), "vfio-ts-none.sock")]);
  assert.equal(failed.status, 1);
  const { error } = JSON.parse(failed.stdout);
  assert.equal(error.code, "ENOENT");
  assert.equal(error.op, "connect");
  assert.equal(error.usage, false);
  assert.equal(typeof error.errno, "number");
  const unknownCommand = await vfio(["lss", "--json"]);
  assert.equal(unknownCommand.status, 2);
  assert.equal(JSON.parse(unknownCommand.stdout).error.code, "EUSAGE");
  assert.match(JSON.parse(unknownCommand.stdout).error.message, /did you mean 'ls'/);
  // Without --json, the one stderr line as before.
  assert.match((await vfio(["ls", "--sysfs", "/nonexistent-vfio-ts"])).stderr, /^vfio ls: [^\n]+\n$/);
});

test("a mistyped command or option is answered with the closest one", async () => {
  assert.match((await vfio(["lss"])).stderr, /unknown command 'lss' \(did you mean 'ls'\?\)/);
  assert.match((await vfio(["chekc", "1"])).stderr, /did you mean 'check'\?/);
  const option = await vfio(["ls", "--josn"]);
  assert.equal(option.status, 2);
  assert.match(option.stderr, /unknown option --josn \(did you mean '--json'\?\)/);
  assert.doesNotMatch((await vfio(["ls", "--zzzzzz"])).stderr, /did you mean/);
  assert.equal(editDistance("josn", "json"), 1);
  assert.equal(closest("bnid", ["bind", "info"]), "bind");
  assert.equal(closest("x", ["ls", "check"]), undefined);
});

test("tables fit the terminal's width, names giving way first; a pipe gets every character", async () => {
  for (const columns of [80, 100, 120]) {
    const c = await vfio(["ls", "--sysfs", guest], { tty: true, columns, env: { NO_COLOR: "1" } });
    const long = c.stdout.split("\n\n")[1]!.split("\n"); // the table, between the IOMMU line and the verdicts
    assert.ok(long.length > 10);
    for (const line of long) assert.ok(line.length <= columns, `${columns}: ${line.length}: ${line}`);
    assert.match(c.stdout, /0000:01:02\.0  8086:100e/, "addresses and ids are never cut");
  }
  const piped = await vfio(["ls", "--sysfs", guest]);
  assert.match(piped.stdout, /Intel Corporation 82540EM Gigabit Ethernet Controller/);
  assert.ok(piped.stdout.split("\n").some((line) => line.length > 120));
  assert.equal(formatTable([["abc", "a long cell here"]], 12, [1]), "abc  a long…");
});

test("every usage line names --emulated where the command accepts it", async () => {
  for (const command of commands) {
    // The words before the first operand or option: "vfio nvme identify <device>" → nvme identify.
    const words = /^usage: vfio ((?:[a-z][\w-]* ?)+)/.exec(command.usage)![1]!.trim().split(" ");
    const c = await vfio([...words, "--emulated", "--bogus-to-stop-early"]);
    const accepts = !/unknown option --emulated/.test(c.stderr);
    const usageLines = command.usage.split("\n\n")[0]!;
    assert.equal(/--emulated/.test(usageLines), accepts, `${command.name}: accepts --emulated: ${accepts}\n${usageLines}`);
  }
});

test("an unlimited memlock is \"unlimited\" in check --json", async () => {
  const c = await vfio(["check", "--emulated", "--json", "00:03.0"]);
  assert.deepEqual(JSON.parse(c.stdout).memlock, { soft: "unlimited", hard: "unlimited" });
});

test("passthrough, bind --dry-run, restore and unpersist take --json", async (t) => {
  const sysfs = fakeMachine();
  const journal = memoryJournal();
  const plan = captureIo();
  assert.equal(await runCli(["bind", "--dry-run", "--json", "0000:01:02.0"], plan, [bindCommand(deps(sysfs, journal))]), 0);
  const planned = JSON.parse(plan.out());
  assert.deepEqual(planned.groups, [4]);
  assert.ok(planned.steps.some((s: { path?: string }) => s.path === "/fake/sys/bus/pci/devices/0000:01:02.0/driver_override"));
  assert.equal(plan.err(), "");
  assert.deepEqual(sysfs.writes, []);
  assert.equal(await runCli(["bind", "--json", "0000:01:02.0"], captureIo(), [bindCommand(deps(sysfs, journal))]), 2, "--json needs --dry-run");

  assert.equal(await runCli(["bind", "0000:01:02.0"], captureIo(), [bindCommand(deps(sysfs, journal))]), 0);
  const pass = captureIo();
  assert.equal(await runCli(["passthrough", "--json", "0000:01:02.0"], pass, [passthroughCommand(deps(sysfs, journal))]), 0);
  const passed = JSON.parse(pass.out());
  assert.deepEqual(passed.qemu, ["-device", "vfio-pci,host=0000:01:02.0,id=hostdev0"]);
  assert.deepEqual(passed.companions, ["0000:01:01.0"]);
  assert.match(passed.libvirt, /<hostdev /);

  const dry = captureIo();
  assert.equal(await runCli(["restore", "--dry-run", "--json"], dry, [restoreCommand(deps(sysfs, journal))]), 0);
  assert.deepEqual(JSON.parse(dry.out()).devices.map((d: { address: string }) => d.address).sort(), ["0000:01:01.0", "0000:01:02.0"]);
  const restored = captureIo();
  assert.equal(await runCli(["restore", "--json"], restored, [restoreCommand(deps(sysfs, journal))]), 0);
  const outcome = JSON.parse(restored.out());
  assert.deepEqual(outcome.restored.find((r: { address: string }) => r.address === "0000:01:02.0"), { address: "0000:01:02.0", driver: "e1000" });
  assert.deepEqual(outcome.failed, []);

  const root = mkdtempSync(join(tmpdir(), "vfio-etc-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const un = captureIo();
  assert.equal(await runCli(["unpersist", "--json"], un, [unpersistCommand(deps(sysfs, journal, idleHostProbe, { root, ran: [] }))]), 0);
  assert.deepEqual(JSON.parse(un.out()), { remove: [], lines: [], regenerate: null, done: false });
});

test("info --socket: a silent server times out (--timeout), a peer that is no vfio-user server is named so", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-peer-"));
  const silent = createServer(() => {});
  const http = createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
  t.after(() => {
    silent.close();
    http.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve) => silent.listen(join(dir, "silent.sock"), resolve));
  await new Promise<void>((resolve) => http.listen(join(dir, "http.sock"), resolve));
  const waited = await vfio(["info", "--json", "--timeout", "200", "--socket", join(dir, "silent.sock")]);
  assert.equal(waited.status, 1);
  assert.equal(JSON.parse(waited.stdout).error.code, "ETIMEDOUT");
  assert.equal(JSON.parse(waited.stdout).error.op, "VFIO_USER_VERSION");
  const other = await vfio(["info", "--socket", join(dir, "http.sock")]);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /^vfio info: \S+http\.sock is not a vfio-user server: [^\n]+\n$/);
  assert.equal((await vfio(["info", "--timeout", "100", "00:03.0"])).status, 2, "--timeout goes with --socket");
});
