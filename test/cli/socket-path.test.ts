import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VfioSystemError, errnoValue } from "../../src/api/errors.js";
import { asSocketError, checkConnectSocketPath, checkServeSocketPath } from "../../src/cli/socket-path.js";

test("checkServeSocketPath() and checkConnectSocketPath() tell a user's path mistake (usage) from a missing server (connect ENOENT)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-socket-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "file"), "");
  await checkServeSocketPath(join(dir, "new.sock"));
  await assert.rejects(checkServeSocketPath(join(dir, "no", "x.sock")), { name: "VfioUsageError", code: "ENOENT" });
  await assert.rejects(checkServeSocketPath(dir), { name: "VfioUsageError", code: "EISDIR" });
  await assert.rejects(checkServeSocketPath(join(dir, "file")), { name: "VfioUsageError", code: "EEXIST" });
  await assert.rejects(checkConnectSocketPath(dir), { name: "VfioUsageError", code: "EISDIR" });
  await assert.rejects(checkConnectSocketPath(join(dir, "file")), { name: "VfioUsageError", code: "ENOTSOCK" });
  await assert.rejects(checkConnectSocketPath(join(dir, "none.sock")), { name: "VfioSystemError", code: "ENOENT", op: "connect" });
});

test("asSocketError() keeps the errno of a transport error or a node:net error and names the op and path", () => {
  const fromTransport = asSocketError("connect", "/s", new VfioSystemError("open", errnoValue("ECONNREFUSED"), "vfio-user", "/s"));
  assert.equal(fromTransport.op, "connect");
  assert.equal(fromTransport.code, "ECONNREFUSED");
  assert.equal(fromTransport.via, "vfio-user");
  assert.match(fromTransport.hint ?? "", /stale socket/);
  const fromNet = asSocketError("bind", "/s", Object.assign(new Error("listen EACCES"), { code: "EACCES" }));
  assert.equal(fromNet.op, "bind");
  assert.equal(fromNet.code, "EACCES");
  assert.equal(fromNet.target, "/s");
});
