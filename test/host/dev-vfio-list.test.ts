import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDevVfioList } from "../../src/host/dev-vfio-list.js";

test("parseDevVfioList() reads name, type, octal mode and owner", () => {
  assert.deepEqual(parseDevVfioList("7 c 660 0 107\ndevices d 755 0 0\n\n", "x"), [
    { name: "7", type: "c", mode: 0o660, uid: 0, gid: 107 },
    { name: "devices", type: "d", mode: 0o755, uid: 0, gid: 0 },
  ]);
});

test("parseDevVfioList() rejects a malformed line with EPROTO", () => {
  assert.throws(() => parseDevVfioList("7 c rw 0 0\n", "x"), { name: "VfioProtocolError", code: "EPROTO" });
});
