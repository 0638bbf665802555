/**
 * `vfio nvme` on QEMU's controller at 00:06.0 in the test guest, as a user runs it: exit
 * status, stdout and stderr. In-process (test/helpers/run-cli): a fresh node loading the whole
 * CLI takes half a minute under TCG.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { vfio as runVfio } from "../helpers/run-cli.js";
import { NVME, skip } from "./guest.js";

const vfio = (...args: string[]) => runVfio(["nvme", ...args]);
const variant = process.env["VFIO_GUEST_VARIANT"] ?? "default";

test("vfio nvme identify --json reports QEMU's serial, model and namespaces", { skip }, async () => {
  const r = await vfio("identify", NVME, "--json");
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { serial: string; model: string; namespaces: { nsid: number; blockSize: number }[] };
  assert.equal(report.serial, variant === "nvme-small" ? "vfio-ts-small" : "vfio-ts");
  assert.equal(report.model, "QEMU NVMe Ctrl");
  assert.deepEqual(report.namespaces.map((n) => [n.nsid, n.blockSize]), variant === "nvme-small" ? [[1, 512], [2, 4096]] : [[1, 512]]);
  const text = await vfio("identify", NVME);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /QEMU NVMe Ctrl, serial vfio-ts/);
});

test("vfio nvme write --input then read --output gives back the file; read prints a hex dump", { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "vfio-nvme-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const input = path.join(dir, "in.bin");
  const output = path.join(dir, "out.bin");
  const data = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31 + 7) & 0xff));
  writeFileSync(input, data);
  const w = await vfio("write", NVME, "--lba", "100", "--input", input, "--completion", "intx");
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stdout, /wrote 4 blocks \(2 KiB\) at LBA 100/);
  const r = await vfio("read", NVME, "--lba", "100", "--blocks", "4", "--output", output, "--completion", "poll");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readFileSync(output), data);
  const dump = await vfio("read", NVME, "--lba", "100");
  assert.equal(dump.status, 0, dump.stderr);
  assert.equal(dump.stdout.split("\n")[0], "0000c800: 0726 4564 83a2 c1e0 ff1e 3d5c 7b9a b9d8  .&Ed......=\\{...");
});

test("vfio nvme perf runs with a progress line and reports IOPS and latency", { skip }, async () => {
  const r = await vfio("perf", NVME, "--duration", "2", "--queue-depth", "8", "--queues", "2", "--json");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\[1\/2 s\] \d+ IOPS, [\d.]+ MiB\/s$/m);
  const result = JSON.parse(r.stdout) as { completed: number; errors: number; iops: number; latencyUs: { p50: number; p99: number } };
  assert.equal(result.errors, 0);
  assert.ok(result.completed > 16 && result.iops > 0);
  assert.ok(result.latencyUs.p50 > 0 && result.latencyUs.p99 >= result.latencyUs.p50);
});

test("vfio nvme refuses bad input in one line: usage errors exit 2, before touching the device", { skip }, async () => {
  for (const args of [
    ["read", NVME],
    ["read", NVME, "--lba", "-1"],
    ["read", NVME, "--lba", "99999999"],
    ["perf", NVME, "--access", "sideways"],
    ["perf", NVME, "--block-size", "1000"],
    ["write", NVME, "--lba", "0", "--input", "/nonexistent/file"],
    ["frobnicate", NVME],
  ]) {
    const r = await vfio(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
