/**
 * `vfio serve` offers the limits as options, refuses a nonsense value with one line, and logs
 * every DMA the device could not complete where a user sees it (stderr, by default).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../../../src/cli/run.js";
import { VfioUserClient } from "../../../src/user/client.js";
import { tempDir } from "../loopback.js";

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");

function capture() {
  let stdout = "";
  let stderr = "";
  return { io: { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} }, out: () => stdout, err: () => stderr };
}

test("vfio serve --help lists every limit with its default", async () => {
  const c = capture();
  assert.equal(await runCli(["serve", "--help"], c.io), 0);
  for (const option of ["--max-queued-clients", "--handshake-timeout", "--idle-timeout", "--message-timeout", "--max-pending-requests", "--request-timeout", "--max-reply-bytes", "--drain-timeout", "--max-dma-maps"]) {
    assert.match(c.out(), new RegExp(`${option} N .*\\(\\d+\\)`), option);
  }
});

test("vfio serve refuses a limit that is not a whole number: one line, exit 2", async () => {
  for (const args of [["--max-dma-maps", "-1"], ["--request-timeout", "0"], ["--max-reply-bytes", "1e9"], ["--idle-timeout", "soon"]]) {
    const c = capture();
    assert.equal(await runCli(["serve", "edu", "--socket", "/tmp/never-made.sock", ...args], c.io), 2, args.join(" "));
    assert.equal(c.err().trim().split("\n").length, 1);
  }
});

test("vfio serve logs a DMA the device could not complete on stderr", { timeout: 30_000 }, async (t) => {
  const sock = path.join(tempDir(t), "edu.sock");
  const child = spawn(process.execPath, [main, "serve", "edu", "--socket", sock], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  while (!out.includes("serving")) await new Promise((r) => setTimeout(r, 20));
  const client = await VfioUserClient.connect(sock);
  t.after(() => client.close());
  const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
  const u64 = (v: bigint): Uint8Array => new Uint8Array(new BigUint64Array([v]).buffer);
  // Bus master on, then an edu DMA from an address the client never mapped into the device's buffer.
  await client.write(7, 4n, Uint8Array.of(0x06, 0x00));
  await client.write(0, 0x80n, u64(0x0234_5000n));
  await client.write(0, 0x88n, u64(0x40000n));
  await client.write(0, 0x90n, u64(8n));
  await client.write(0, 0x98n, u32(1));
  for (let i = 0; i < 200 && !err.includes("DMA read"); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(err, /DMA read of 8 bytes at 0x2345000 failed: not-mapped/);
});
