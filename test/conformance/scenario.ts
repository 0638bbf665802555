/**
 * The conformance suite's framework. A scenario drives VFIO through api/ VfioSystem only, so
 * the same file runs on the emulated machine (npm test) and on Linux in the QEMU guest; it
 * records every observable outcome (values, flags, errno names) under a key, in order. The
 * outcomes of a real Linux 6.1 run are the golden file; the emulated machine must match them.
 */
import type { VfioSystem } from "../../src/api/vfio-system.js";

/** A JSON value as outcomes hold it (bigints become "0x…" strings). */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
export type Outcome = Record<string, Json>;

export interface ScenarioContext {
  readonly system: VfioSystem;
  /** Records `value` under `key` (keys are unique within a scenario). */
  record(key: string, value: unknown): void;
  /** Runs `op`, records "ok" or the errno name it failed with, and returns its result. */
  attempt<T>(key: string, op: () => Promise<T>): Promise<T | undefined>;
  /** Registers cleanup, run in reverse order after the scenario, failures ignored. */
  defer(cleanup: () => unknown): void;
  /** Waits long enough for signals already raised to arrive (an eventfd read on the event loop). */
  settle(): Promise<void>;
}

export interface Scenario {
  /** "map.overlap-partial": area, then behaviour. */
  readonly id: string;
  /** One line: what Linux does. */
  readonly title: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Converts a value to its recorded JSON form. */
export function toJson(value: unknown): Json {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return `0x${value.toString(16)}`;
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = toJson(v);
    return out;
  }
  return String(value);
}

/** The errno name of a failure, or its code, or a description for anything else. */
export function errorCode(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof (error as { code: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return `unexpected: ${error instanceof Error ? error.message : String(error)}`;
}

/** Runs one scenario on `system`; a throw outside attempt() is recorded under "error". */
export async function runScenario(scenario: Scenario, system: VfioSystem, options: { settleMs?: number } = {}): Promise<Outcome> {
  const settleMs = options.settleMs ?? 100;
  const outcome: Outcome = {};
  const cleanups: (() => unknown)[] = [];
  const ctx: ScenarioContext = {
    system,
    record(key, value) {
      if (key in outcome) throw new Error(`scenario ${scenario.id}: key '${key}' recorded twice`);
      outcome[key] = toJson(value);
    },
    async attempt(key, op) {
      try {
        const result = await op();
        ctx.record(key, "ok");
        return result;
      } catch (error) {
        ctx.record(key, errorCode(error));
        return undefined;
      }
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    settle: () => new Promise((resolve) => setTimeout(resolve, settleMs)),
  };
  try {
    await scenario.run(ctx);
  } catch (error) {
    outcome["error"] = errorCode(error);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Cleanup failures do not change the outcome; the next scenario's set-up will show them.
      }
    }
  }
  return outcome;
}

/** The golden file's shape: which kernel produced it, and every scenario's outcome. */
export interface GoldenFile {
  readonly kernel: string;
  readonly producedBy: string;
  readonly scenarios: Readonly<Record<string, Outcome>>;
}
