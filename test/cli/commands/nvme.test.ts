/**
 * `vfio serve nvme` and `vfio nvme` together: a server process with a file-backed namespace,
 * the command driving it over vfio-user, the bytes landing in the file; and `vfio nvme
 * --emulated` on the default machine's controller.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { vfio } from "../../helpers/run-cli.js";
import { tempDir } from "../../user/loopback.js";

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");

test("vfio serve nvme --backing FILE: a client writes and reads back, and the bytes are in FILE", async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, "nvme.sock");
  const backing = path.join(dir, "disk.img");
  writeFileSync(backing, new Uint8Array(1 << 20));
  const child = spawn(process.execPath, [main, "serve", "nvme", "--backing", backing, "--socket", sock], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  while (!out.includes("serving")) await new Promise((r) => setTimeout(r, 20));

  const id = await vfio(["nvme", "identify", "--socket", sock, "--json"]);
  assert.equal(id.status, 0, id.stderr);
  const report = JSON.parse(id.stdout) as { serial: string; namespaces: { nsid: number; blocks: string; blockSize: number }[] };
  assert.equal(report.serial, "vfio-ts");
  assert.deepEqual(report.namespaces.map((n) => [n.nsid, n.blocks, n.blockSize]), [[1, "2048", 512]]);

  const w = await vfio(["nvme", "write", "--socket", sock, "--lba", "3", "--fill", "0xab", "--blocks", "2", "--completion", "intx"]);
  assert.equal(w.status, 0, w.stderr);
  const file = readFileSync(backing);
  assert.ok(file.subarray(3 * 512, 5 * 512).every((b) => b === 0xab), "the written blocks are in the file");
  assert.ok(file.subarray(0, 3 * 512).every((b) => b === 0) && file.subarray(5 * 512).every((b) => b === 0), "and nothing else changed");

  const outFile = path.join(dir, "out.bin");
  const r = await vfio(["nvme", "read", "--socket", sock, "--lba", "2", "--blocks", "4", "--output", outFile, "--completion", "poll"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readFileSync(outFile), file.subarray(2 * 512, 6 * 512));

  const perf = await vfio(["nvme", "perf", "--socket", sock, "--duration", "1", "--queue-depth", "4", "--completion", "poll", "--json"]);
  assert.equal(perf.status, 0, perf.stderr);
  const result = JSON.parse(perf.stdout) as { completed: number; errors: number };
  assert.equal(result.errors, 0);
  assert.ok(result.completed > 0);

  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
  assert.equal(code, 0);
  assert.equal(existsSync(sock), false);
});

test("vfio nvme --emulated drives the default machine's controller at 00:06.0", async () => {
  const id = await vfio(["nvme", "identify", "--emulated", "00:06.0"]);
  assert.equal(id.status, 0, id.stderr);
  assert.match(id.stdout, /^0000:00:06\.0: QEMU NVMe Ctrl, serial vfio-ts, firmware vfio-ts, NVMe 1\.4\.0$/m);
  assert.match(id.stdout, /^ +1 +2048 +512 +1 MiB +0 \(512\+0\)$/m);
  const perf = await vfio(["nvme", "perf", "--emulated", "00:06.0", "--duration", "2", "--queues", "2", "--queue-depth", "8"]);
  assert.equal(perf.status, 0, perf.stderr);
  assert.match(perf.stdout, /^random read, 4096 bytes, 2 queues × depth 8, msix: \d+ IOPS/m);
  assert.match(perf.stderr, /^\[1\/2 s\] \d+ IOPS/m);
});

test("vfio serve nvme and vfio nvme refuse bad options in one line, exit 2", async (t) => {
  const dir = tempDir(t);
  for (const args of [
    ["serve", "nvme", "--socket", path.join(dir, "a.sock"), "--size", "12345"],
    ["serve", "nvme", "--socket", path.join(dir, "b.sock"), "--backing", path.join(dir, "missing.img")],
    ["serve", "nvme", "--socket", path.join(dir, "c.sock"), "--backing", "x", "--size", "1M"],
    ["serve", "edu", "--socket", path.join(dir, "d.sock"), "--size", "1M"],
    ["nvme", "identify"],
    ["nvme", "read", "--emulated", "00:06.0", "--lba", "2048"],
    ["nvme", "perf", "--emulated", "00:06.0", "--queue-depth", "0"],
    ["nvme", "identify", "--emulated", "00:06.0", "--socket", "/tmp/x"],
  ]) {
    const r = await vfio(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
