/**
 * Figures measured in rounds: each round measures the TS side and its baseline back to back,
 * so that both see the same share of a shared machine, and a figure is the median of the
 * per-round ratios with their spread. One noisy round then moves the spread, not the figure.
 */

/** One figure of a bench: the TS side and its baseline, one pair of measurements per round. */
export interface Figure {
  /** What was measured: "read32 via RegionMapping". */
  readonly label: string;
  readonly unit: string;
  /** The baseline measured in the same rounds: "C volatile load". */
  readonly baseline: string;
  /** true when larger is better (throughput), false for latency. */
  readonly higherIsBetter: boolean;
  readonly rounds: readonly { readonly value: number; readonly baseline: number }[];
}

export interface Summary {
  /** Median over rounds of value / baseline. */
  readonly ratio: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: number;
  /** Medians of the two sides, for the absolute figures printed beside the ratio. */
  readonly value: number;
  readonly baselineValue: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!;
}

export function summarize(figure: Figure): Summary {
  const ratios = figure.rounds.map((r) => r.value / r.baseline);
  return {
    ratio: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    rounds: ratios.length,
    value: median(figure.rounds.map((r) => r.value)),
    baselineValue: median(figure.rounds.map((r) => r.baseline)),
  };
}

/** Number of rounds per bench: BENCH_ROUNDS, default `fallback`. */
export function roundCount(fallback: number): number {
  const n = Number(process.env["BENCH_ROUNDS"] ?? fallback);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * Runs `bodies` in turn, `sliceMs` at a time, for `rounds` rounds; returns each body's calls per
 * second in every round (for benches whose baseline is JS in the same process).
 */
export function slices(rounds: number, sliceMs: number, batch: number, bodies: readonly (() => void)[]): number[][] {
  const perRound: number[][] = [];
  for (let r = 0; r < rounds; r++) {
    perRound.push(
      bodies.map((body) => {
        const start = performance.now();
        let now = start;
        let calls = 0;
        while (now - start < sliceMs) {
          for (let i = 0; i < batch; i++) body();
          calls += batch;
          now = performance.now();
        }
        return calls / ((now - start) / 1000);
      }),
    );
  }
  return perRound;
}
