/**
 * `npm run bench [name]`: runs every bench/<name>.bench.js module, or the one named (a name or
 * a prefix of names: `npm run bench kernel` runs the three kernel benches). An unknown name is
 * a one-line error listing the benches, exit status 2.
 *
 * Every figure is a ratio against a baseline measured in the same run (a C program on the same
 * mapping or in the same guest, a plain memory copy), because these machines are shared and
 * noisy. Each bench alternates its TS side and its baseline in several rounds, so both see the
 * same share of a busy machine; what is printed is the median of the per-round ratios and their
 * spread (interquartile range, and min–max), with the load average at the bench's start. A
 * figure whose median moves out of the other run's interquartile range is a bug in the bench.
 *
 * A bench module exports `name` and `run(): Promise<Figure[]>`; it may return a `skipped` reason
 * when what it measures cannot run here (no /dev/vfio, no compiler).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { summarize, type Figure } from "./rounds.js";

export type { Figure } from "./rounds.js";

export interface BenchModule {
  readonly name: string;
  run(): Promise<readonly Figure[] | { skipped: string }>;
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** One line per figure: the median ratio and its spread first, then the medians behind it. */
export function describe(figure: Figure): string {
  const s = summarize(figure);
  const direction = figure.higherIsBetter ? "higher is better" : "lower is better";
  return (
    `  ${figure.label}: ratio ${s.ratio.toFixed(2)} (IQR ${s.q1.toFixed(2)}–${s.q3.toFixed(2)}, range ${s.min.toFixed(2)}–${s.max.toFixed(2)}, ${s.rounds} rounds; ${direction})` +
    ` — ${format(s.value)} ${figure.unit} vs ${figure.baseline} ${format(s.baselineValue)} ${figure.unit}`
  );
}

const here = path.dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(here).filter((f) => f.endsWith(".bench.js")).map((f) => f.slice(0, -".bench.js".length)).sort();

async function main(): Promise<number> {
  const wanted = process.argv[2];
  const chosen = wanted === undefined ? benches : benches.filter((b) => b === wanted || b.startsWith(wanted));
  if (chosen.length === 0) {
    process.stderr.write(`bench: no bench named "${wanted}"; the benches are: ${benches.join(", ")}\n`);
    return 2;
  }
  for (const bench of chosen) {
    const mod = (await import(path.join(here, `${bench}.bench.js`))) as BenchModule;
    process.stdout.write(`\n## ${bench}: ${mod.name} (load average ${loadAverage()} at start)\n`);
    const results = await mod.run();
    if ("skipped" in results) {
      process.stdout.write(`  skipped: ${results.skipped}\n`);
      continue;
    }
    for (const figure of results) process.stdout.write(`${describe(figure)}\n`);
  }
  return 0;
}

process.exitCode = await main();
