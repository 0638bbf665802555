/**
 * The conformance suite on the emulated machine: each scenario's outcome must equal Linux
 * 6.1's, as recorded in golden/linux-6.1.json from a real guest run. Set CONFORMANCE_OUT to a
 * path to also write the emulated outcomes there (for review).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { EmulatedSystem } from "../../src/emu/system.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { prepare } from "./fixture.js";
import { type Outcome, runScenario } from "./scenario.js";
import { scenarios } from "./scenarios.js";
import { differences, loadGolden } from "./suite.js";

const golden = await loadGolden();
const recorded: Record<string, Outcome> = {};

test("the suite has at least 60 scenarios with unique ids", () => {
  const ids = scenarios.map((s) => s.id);
  assert.ok(ids.length >= 60, `${ids.length} scenarios`);
  assert.equal(new Set(ids).size, ids.length);
});

for (const scenario of scenarios) {
  const expected = golden?.scenarios[scenario.id];
  const skip = !golden ? "no golden file yet (test/conformance/golden/linux-6.1.json)" : !expected ? "not in the golden file" : false;
  test(`conformance ${scenario.id}: ${scenario.title}`, { skip }, async () => {
    const system = new EmulatedSystem(defaultMachineSpec());
    await prepare(system);
    const actual = await runScenario(scenario, system, { settleMs: 1 });
    recorded[scenario.id] = actual;
    assert.deepEqual(actual, expected, differences(expected!, actual).join("\n"));
  });
}

test("write the emulated outcomes when CONFORMANCE_OUT is set", { skip: !process.env["CONFORMANCE_OUT"] && "CONFORMANCE_OUT not set" }, async () => {
  const all: Record<string, Outcome> = {};
  for (const scenario of scenarios) {
    const system = new EmulatedSystem(defaultMachineSpec());
    await prepare(system);
    all[scenario.id] = recorded[scenario.id] ?? (await runScenario(scenario, system, { settleMs: 1 }));
  }
  await writeFile(process.env["CONFORMANCE_OUT"]!, `${JSON.stringify({ kernel: "emulated", producedBy: "emulated machine", scenarios: all }, null, 2)}\n`);
});
