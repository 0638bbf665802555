/** The README's counts, held to what they count. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { scenarios } from "../conformance/scenarios.js";
import { repoPath } from "../helpers/fixtures.js";

const readme = readFileSync(repoPath("README.md"), "utf8");

test("the README's number of conformance scenarios is the suite's", () => {
  const stated = /`test\/conformance`, (\d+) scenarios/.exec(readme);
  assert.ok(stated, "the README states the count");
  assert.equal(Number(stated[1]), scenarios.length);
});
