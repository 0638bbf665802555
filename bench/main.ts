/**
 * `npm run bench`: runs every bench/*.bench.js module. Each prints its figures as ratios
 * against a baseline measured in the same run (a C program on the same mapping, a plain memory
 * copy, the reference implementation), because these machines are noisy; absolute numbers are
 * printed only beside their baseline.
 *
 * A bench module exports `name` and `run(): Promise<BenchResult[]>`; it may return a
 * `skipped` reason when what it measures cannot run here (no /dev/vfio, no compiler).
 */
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

export interface BenchResult {
  /** What was measured: "32-bit MMIO read via typed array". */
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline in the same run, same unit. */
  readonly baseline: { readonly label: string; readonly value: number };
  /** true when larger is better (throughput), false for latency. */
  readonly higherIsBetter: boolean;
}

export interface BenchModule {
  readonly name: string;
  run(filter: string | undefined): Promise<readonly BenchResult[] | { skipped: string }>;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = (await readdir(here)).filter((f) => f.endsWith(".bench.js")).sort();
for (const file of files) {
  const mod = (await import(path.join(here, file))) as BenchModule;
  if (filter && !mod.name.includes(filter) && !file.includes(filter)) continue;
  process.stdout.write(`\n## ${mod.name}\n`);
  const results = await mod.run(filter);
  if ("skipped" in results) {
    process.stdout.write(`  skipped: ${results.skipped}\n`);
    continue;
  }
  for (const r of results) {
    const ratio = r.value / r.baseline.value;
    const better = r.higherIsBetter ? ratio : 1 / ratio;
    process.stdout.write(
      `  ${r.label}: ${format(r.value)} ${r.unit} vs ${r.baseline.label} ${format(r.baseline.value)} ${r.unit}` +
        ` → ratio ${ratio.toFixed(2)} (${better >= 1 ? `${better.toFixed(2)}× as good` : `${(1 / better).toFixed(2)}× worse`})\n`,
    );
  }
}
