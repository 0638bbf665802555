import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../../../src/cli/run.js";
import { VfioUserClient } from "../../../src/user/client.js";
import { tempDir } from "../../user/loopback.js";

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");

function io() {
  let stdout = "";
  let stderr = "";
  return { io: { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} }, out: () => stdout, err: () => stderr };
}

test("vfio serve edu --socket serves clients until SIGTERM, then removes the socket and exits 0", async (t) => {
  const sock = path.join(tempDir(t), "edu.sock");
  const child = spawn(process.execPath, [main, "serve", "edu", "--socket", sock], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  while (!out.includes("serving")) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 2; i++) {
    const client = await VfioUserClient.connect(sock);
    const id = await client.read(0, 0n, 4);
    assert.equal(new DataView(id.buffer, id.byteOffset).getUint32(0, true), 0x010000ed);
    await client.close();
  }
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
  assert.equal(code, 0);
  assert.match(out, /stopped after 2 clients/);
  assert.equal(existsSync(sock), false);
});

test("vfio serve usage errors exit 2 with one line", async () => {
  for (const args of [["serve"], ["serve", "frobnicator", "--socket", "/tmp/x"], ["serve", "edu"], ["serve", "edu", "--bogus"]]) {
    const c = io();
    assert.equal(await runCli(args, c.io), 2, args.join(" "));
    assert.equal(c.err().trim().split("\n").length, 1);
  }
});

test("vfio info --socket describes the served edu: regions, interrupts, identity, capabilities", async (t) => {
  const sock = path.join(tempDir(t), "edu.sock");
  const { VfioUserServer } = await import("../../../src/user/server.js");
  const { EduDevice } = await import("../../../src/devices/edu.js");
  const server = await VfioUserServer.listen(new EduDevice(), sock);
  t.after(() => server.close());
  const c = io();
  assert.equal(await runCli(["info", "--socket", sock], c.io), 0, c.err());
  assert.match(c.out(), /PCI 1234:11e8, class 00ff00, revision 10/);
  assert.match(c.out(), /0 +BAR0 +1 MiB +0x0 +read,write/);
  assert.match(c.out(), /7 +CONFIG +256 /);
  assert.match(c.out(), /1 +MSI +1 +eventfd,noresize/);
  assert.match(c.out(), /vfio-user 0\.2 \(max_msg_fds 8/);
  const j = io();
  assert.equal(await runCli(["info", "--socket", sock, "--json"], j.io), 0);
  const parsed = JSON.parse(j.out()) as { regions: { size: string }[]; identity: { vendorId: string } };
  assert.equal(parsed.regions.length, 9);
  assert.equal(parsed.identity.vendorId, "1234");
  assert.equal(parsed.regions[0]!.size, "0x100000");
  const missing = io();
  assert.equal(await runCli(["info", "--socket", path.join(tempDir(t), "none")], missing.io), 1);
  assert.match(missing.err(), /ENOENT/);
});
