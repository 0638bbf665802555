import { test } from "node:test";
import assert from "node:assert/strict";
import { hasDmaOwnership, parseKernelRelease } from "../../src/host/kernel-release.js";

test("parseKernelRelease() reads major and minor from a distribution release", () => {
  assert.deepEqual(parseKernelRelease("6.1.0-56-amd64\n"), { release: "6.1.0-56-amd64", major: 6, minor: 1 });
  assert.equal(parseKernelRelease("linux"), undefined);
});

test("hasDmaOwnership() is true from 5.19", () => {
  assert.equal(hasDmaOwnership(parseKernelRelease("5.18.19")!), false);
  assert.equal(hasDmaOwnership(parseKernelRelease("5.19.0")!), true);
  assert.equal(hasDmaOwnership(parseKernelRelease("6.1.0")!), true);
  assert.equal(hasDmaOwnership(parseKernelRelease("4.19.0")!), false);
});
