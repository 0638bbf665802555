/**
 * Figures measured in rounds: each round measures the TS side and its baseline back to back,
 * so that both see the same share of a shared machine, and a figure is the median of the
 * per-round ratios with their spread (the interquartile range, and the full range). One noisy
 * round then moves the range, not the figure.
 */
import { threadCpuSeconds } from "./cpu-time.js";

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
  /** The interquartile range of the per-round ratios: the spread a second run should land in. */
  readonly q1: number;
  readonly q3: number;
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

/** The `q` quantile (0–1) of `values`, linearly interpolated between the two nearest ranks. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.min(low + 1, sorted.length - 1)]! - sorted[low]!) * (at - low);
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
    q1: quantile(ratios, 0.25),
    q3: quantile(ratios, 0.75),
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
 * Runs `bodies` in turn, `sliceMs` of this thread's CPU time each, for `rounds` rounds; returns
 * each body's calls per CPU second in every round (for benches whose baseline is JS in the same
 * process).
 */
export function slices(rounds: number, sliceMs: number, batch: number, bodies: readonly (() => void)[]): number[][] {
  const perRound: number[][] = [];
  const slice = sliceMs / 1000;
  for (let r = 0; r < rounds; r++) {
    perRound.push(
      bodies.map((body) => {
        const start = threadCpuSeconds();
        let now = start;
        let calls = 0;
        while (now - start < slice) {
          for (let i = 0; i < batch; i++) body();
          calls += batch;
          now = threadCpuSeconds();
        }
        return calls / (now - start);
      }),
    );
  }
  return perRound;
}
