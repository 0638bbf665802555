/**
 * Translations per second of the emulated IOMMU: IOTLB hits (a working set that fits in the
 * IOTLB) and misses (a sweep over more pages than it holds, each a walk of the type1 mapping
 * table), with a plain Map lookup as the floor for the hit path.
 */
import type { BenchResult } from "./main.js";
import { IommuDomain } from "../src/emu/iommu/domain.js";

export const name = "emulated IOMMU: translations per second";

const PAGE = 4096;
const MAPPINGS = 4096;

/** Runs each body in turn, 15 ms at a time, for `rounds` rounds (fair on a busy machine); calls per second of each. */
function perSecond(rounds: number, bodies: readonly (() => void)[]): number[] {
  const calls = bodies.map(() => 0);
  const ms = bodies.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    bodies.forEach((body, k) => {
      const start = performance.now();
      let now = start;
      while (now - start < 15) {
        for (let i = 0; i < 1024; i++) body();
        calls[k]! += 1024;
        now = performance.now();
      }
      ms[k]! += now - start;
    });
  }
  return calls.map((c, k) => c / (ms[k]! / 1000));
}

export async function run(): Promise<readonly BenchResult[]> {
  const domain = new IommuDomain(PAGE, 512);
  const backing = new Uint8Array(PAGE);
  // One mapping per page, as a driver that maps many small buffers makes them.
  for (let i = 0; i < MAPPINGS; i++) domain.map({ iova: 0x100000 + i * PAGE, size: PAGE, bytes: backing, read: true, write: true });
  let i = 0;
  let sink = 0;
  const map = new Map<number, number>();
  for (let p = 0; p < 64; p++) map.set(p, p);
  const walksBefore = domain.walks;
  const [hits, misses, floor] = perSecond(15, [
    () => {
      const t = domain.translate(0x100000 + (i++ & 63) * PAGE + 8, "read");
      if (t.ok) sink += t.offset;
    },
    () => {
      // Sequential over more pages than the IOTLB holds: every one is a miss and a walk.
      const t = domain.translate(0x100000 + (i++ % MAPPINGS) * PAGE + 8, "write");
      if (t.ok) sink += t.offset;
    },
    () => {
      sink += map.get(i++ & 63)!;
    },
  ]) as [number, number, number];
  const walked = domain.walks - walksBefore;
  if (sink === -1 || walked === 0) throw new Error("emu-iotlb bench: the sweep did not miss the IOTLB");
  return [
    { label: "translations, IOTLB hits (64-page working set)", value: hits, unit: "translations/s", baseline: { label: "Map.get of a page number", value: floor }, higherIsBetter: true },
    { label: `translations, IOTLB misses (sweep of ${MAPPINGS} mappings, 512-entry IOTLB)`, value: misses, unit: "translations/s", baseline: { label: "IOTLB hits", value: hits }, higherIsBetter: true },
  ];
}
