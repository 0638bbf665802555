/**
 * Translations per second of the emulated IOMMU: IOTLB hits (a working set that fits in the
 * IOTLB) and misses (a sweep over more pages than it holds, each a walk of the type1 mapping
 * table), with a plain Map lookup as the floor for the hit path.
 */
import { roundCount, slices, type Figure } from "./rounds.js";
import { IommuDomain } from "../src/emu/iommu/domain.js";

export const name = "emulated IOMMU: translations per second";

const PAGE = 4096;
const MAPPINGS = 4096;

export async function run(): Promise<readonly Figure[]> {
  const domain = new IommuDomain(PAGE, 512);
  const backing = new Uint8Array(PAGE);
  // One mapping per page, as a driver that maps many small buffers makes them.
  for (let i = 0; i < MAPPINGS; i++) domain.map({ iova: 0x100000 + i * PAGE, size: PAGE, bytes: backing, read: true, write: true });
  let i = 0;
  let sink = 0;
  const map = new Map<number, number>();
  for (let p = 0; p < 64; p++) map.set(p, p);
  const walksBefore = domain.walks;
  // Each body runs 15 ms in turn, round after round (fair on a busy machine).
  const perRound = slices(roundCount(15), 15, 1024, [
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
  ]) as [number, number, number][];
  const walked = domain.walks - walksBefore;
  if (sink === -1 || walked === 0) throw new Error("emu-iotlb bench: the sweep did not miss the IOTLB");
  return [
    { label: "translations, IOTLB hits (64-page working set)", unit: "translations/s", baseline: "Map.get of a page number", higherIsBetter: true, rounds: perRound.map(([h, , f]) => ({ value: h, baseline: f })) },
    { label: `translations, IOTLB misses (sweep of ${MAPPINGS} mappings, 512-entry IOTLB)`, unit: "translations/s", baseline: "IOTLB hits", higherIsBetter: true, rounds: perRound.map(([h, m]) => ({ value: m, baseline: h })) },
  ];
}
