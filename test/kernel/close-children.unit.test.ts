import { test } from "node:test";
import assert from "node:assert/strict";
import { closeChildren } from "../../src/kernel/close-children.js";

test("closeChildren() closes newest first, every child even after a failure, and returns the errors", async () => {
  const closed: string[] = [];
  const child = (name: string, fail = false) => ({
    async close() {
      closed.push(name);
      if (fail) throw new Error(name);
    },
  });
  const errors = await closeChildren(new Set([child("a"), child("b", true), child("c")]));
  assert.deepEqual(closed, ["c", "b", "a"]);
  assert.deepEqual(errors.map((e) => (e as Error).message), ["b"]);
});
