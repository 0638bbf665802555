import { test } from "node:test";
import assert from "node:assert/strict";
import { fsErrorCode, permissionDenied } from "../../src/host/read-error.js";

test("permissionDenied() turns EACCES and EPERM into a usage error coded EACCES naming the path", () => {
  for (const code of ["EACCES", "EPERM"]) {
    const error = permissionDenied(Object.assign(new Error("x"), { code }), "/sys/x");
    assert.equal(error?.name, "VfioUsageError");
    assert.equal(error?.code, "EACCES");
    assert.match(error?.message ?? "", /\/sys\/x/);
  }
});

test("permissionDenied() leaves other errors alone", () => {
  assert.equal(permissionDenied(Object.assign(new Error("x"), { code: "EIO" }), "/sys/x"), undefined);
  assert.equal(fsErrorCode("not an error"), undefined);
});
