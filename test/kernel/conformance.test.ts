/**
 * The conformance suite on real Linux VFIO (in the test guest): every scenario runs on a fresh
 * KernelSystem and its outcome must equal the golden file's. With CONFORMANCE_RECORD=<path> the
 * outcomes are written there instead of compared: that is how the golden file is produced
 * (scripts/guest/run -- env CONFORMANCE_RECORD=test/conformance/golden/linux-6.1.json
 * node --test dist/test/kernel/conformance.test.js).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { KernelSystem } from "../../src/kernel/system.js";
import { prepare } from "../conformance/fixture.js";
import { type Outcome, runScenario } from "../conformance/scenario.js";
import { scenarios } from "../conformance/scenarios.js";
import { differences, loadGolden } from "../conformance/suite.js";
import { skip } from "./guest.js";

const recordTo = process.env["CONFORMANCE_RECORD"];
const golden = recordTo ? undefined : await loadGolden();
const outcomes: Record<string, Outcome> = {};

for (const scenario of scenarios) {
  const expected = golden?.scenarios[scenario.id];
  const why = skip || (!recordTo && !expected ? "not in the golden file" : false);
  test(`conformance ${scenario.id}: ${scenario.title}`, { skip: why }, async () => {
    const system = new KernelSystem();
    try {
      await prepare(system);
      const actual = await runScenario(scenario, system);
      outcomes[scenario.id] = actual;
      if (!recordTo) assert.deepEqual(actual, expected, differences(expected!, actual).join("\n"));
    } finally {
      await system.close();
    }
  });
}

test("write the recorded outcomes as the golden file", { skip: skip || (!recordTo && "CONFORMANCE_RECORD not set") }, async () => {
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  const file = {
    kernel,
    producedBy: "test/kernel/conformance.test.ts in the test guest (scripts/guest/run; QEMU q35 TCG, intel-iommu)",
    scenarios: outcomes,
  };
  await writeFile(recordTo!, `${JSON.stringify(file, null, 2)}\n`);
});
