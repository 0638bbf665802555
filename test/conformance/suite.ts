/**
 * Runs the conformance suite on a backend. The emulated machine gets a fresh machine per
 * scenario; the kernel runs them in sequence on the one guest, each scenario cleaning up after
 * itself and the fixture restoring the starting bindings before each.
 */
import { readFile } from "node:fs/promises";
import type { VfioSystem } from "../../src/api/vfio-system.js";
import { prepare } from "./fixture.js";
import { type GoldenFile, type Outcome, runScenario } from "./scenario.js";
import { scenarios } from "./scenarios.js";

/** The golden file's location, relative to this module (dist/test/conformance → test/conformance/golden). */
export const goldenUrl = new URL("../../../test/conformance/golden/linux-6.1.json", import.meta.url);

/** The golden file, or undefined while none has been produced. */
export async function loadGolden(url: URL = goldenUrl): Promise<GoldenFile | undefined> {
  try {
    return JSON.parse(await readFile(url, "utf8")) as GoldenFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Runs every scenario (or those whose id starts with `filter`); `systemFor` gives the system for each. */
export async function runSuite(systemFor: () => VfioSystem | Promise<VfioSystem>, options: { filter?: string; settleMs?: number } = {}): Promise<Record<string, Outcome>> {
  const outcomes: Record<string, Outcome> = {};
  for (const scenario of scenarios) {
    if (options.filter && !scenario.id.startsWith(options.filter)) continue;
    const system = await systemFor();
    await prepare(system);
    outcomes[scenario.id] = await runScenario(scenario, system, options.settleMs === undefined ? {} : { settleMs: options.settleMs });
  }
  return outcomes;
}

/** Keys whose values differ between two outcomes, for a readable failure. */
export function differences(expected: Outcome, actual: Outcome): string[] {
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  const out: string[] = [];
  for (const key of keys) {
    const e = JSON.stringify(expected[key]);
    const a = JSON.stringify(actual[key]);
    if (e !== a) out.push(`${key}: Linux ${e ?? "(absent)"}, emulated ${a ?? "(absent)"}`);
  }
  return out;
}
