import { test } from "node:test";
import assert from "node:assert/strict";
import { mayReadWrite, parseProcessIdentity } from "../../src/host/process-identity.js";

test("parseProcessIdentity() takes the effective ids and supplementary groups", () => {
  assert.deepEqual(parseProcessIdentity("Uid:\t1000\t1001\t1000\t1000\nGid:\t100\t101\t100\t100\nGroups:\t27 107 \n"), { uid: 1001, gid: 101, groups: [27, 107] });
  assert.equal(parseProcessIdentity("Name:\tsh\n"), undefined);
});

test("mayReadWrite() checks owner, then group, then other bits; root always may", () => {
  const user = { uid: 1000, gid: 1000, groups: [107] };
  assert.equal(mayReadWrite(user, { mode: 0o600, uid: 0, gid: 0 }), false);
  assert.equal(mayReadWrite(user, { mode: 0o660, uid: 0, gid: 107 }), true);
  assert.equal(mayReadWrite(user, { mode: 0o066, uid: 1000, gid: 0 }), false, "the owner class applies, not other");
  assert.equal(mayReadWrite(user, { mode: 0o666, uid: 0, gid: 0 }), true);
  assert.equal(mayReadWrite({ uid: 0, gid: 0, groups: [] }, { mode: 0o000, uid: 5, gid: 5 }), true);
});
