import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCommandArgs } from "../../src/cli/parse-args.js";

const options = { timeout: { type: "string" }, json: { type: "boolean" } } as const;

test("parseCommandArgs turns each ERR_PARSE_ARGS_* into one line that points at the command's help", () => {
  for (const [args, expected] of [
    [["--bogus"], /^unknown option --bogus; run 'vfio x --help'$/],
    [["--timeout", "-5"], /^--timeout needs a value; for one that starts with '-', write --timeout=VALUE; run 'vfio x --help'$/],
    [["--timeout"], /^--timeout needs a value; run 'vfio x --help'$/],
    [["--json=yes"], /^--json takes no value; run 'vfio x --help'$/],
    [["a", "b"], /^expected at most one thing; run 'vfio x --help'$/],
  ] as const) {
    assert.throws(() => parseCommandArgs("x", args, options, { min: 0, max: 1, name: "thing" }), (error: Error & { code: string }) => {
      assert.equal(error.name, "VfioUsageError");
      assert.equal(error.code, "EUSAGE");
      assert.match(error.message, expected);
      return true;
    }, args.join(" "));
  }
});

test("parseCommandArgs returns typed values and the positionals", () => {
  const { values, positionals } = parseCommandArgs("x", ["--timeout=-5", "--json", "dev"], options, { min: 1, max: Infinity, name: "device" });
  assert.equal(values.timeout, "-5");
  assert.equal(values.json, true);
  assert.deepEqual(positionals, ["dev"]);
  assert.throws(() => parseCommandArgs("x", [], options, { min: 1, max: Infinity, name: "device" }), /expected at least one device/);
});
