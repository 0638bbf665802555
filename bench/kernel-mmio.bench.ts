/**
 * Register and DMA-buffer access through mapped typed-array views (the kernel backend's data
 * path) against C doing the same loads and stores on the same memfd pages, called in this
 * process (bench/c/kernel-mmio.c through koffi) so that each round times JS and C back to back.
 * On the host: a memfd stands in for a BAR, since what is measured is the JS side of an mmap,
 * not the device.
 */
import { koffi } from "../src/native/ffi.js";
import { threadCpuSeconds } from "./cpu-time.js";
import { roundCount, type Figure } from "./rounds.js";
import { compileC } from "./compile-c.js";
import { loadLibc, MAP_SHARED, PROT_READ, PROT_WRITE } from "../src/native/libc.js";
import { allocateMemfd } from "../src/native/process-memory.js";
import { MmapRegionMapping } from "../src/native/region-mapping.js";

export const name = "mapped register and DMA-buffer access vs C on the same memfd";

const BYTES = 64 * 1024;
const ITERATIONS = Number(process.env["VFIO_BENCH_MMIO_ITERATIONS"] ?? 20_000_000);

/** Operations per CPU second of `loop`, which does ITERATIONS accesses and returns a checksum. */
function rate(loop: () => number): number {
  const t0 = threadCpuSeconds();
  const sum = loop();
  const seconds = threadCpuSeconds() - t0;
  if (sum === 0.5) process.stdout.write(""); // keeps the checksum (and so the loads) alive
  return ITERATIONS / seconds;
}

// Each loop keeps its state in locals: a captured variable would be a context slot and time
// that instead of the access.
function mappingRead(region: MmapRegionMapping, mask: number): number {
  let sum = 0;
  for (let i = 0; i < ITERATIONS; i++) sum = (sum + region.read32((i & mask) << 2)) | 0;
  return sum;
}
function mappingWrite(region: MmapRegionMapping, mask: number): number {
  for (let i = 0; i < ITERATIONS; i++) region.write32((i & mask) << 2, i);
  return 1;
}
/**
 * RegionMapping's accessors without their check, for the figure of what the check costs: the
 * same private-field typed-array access, so only the check differs. Never for real use: an
 * out-of-range store is silently dropped and an offset past 2^32 wraps.
 */
class UncheckedRegion {
  readonly #u32: Uint32Array;
  constructor(words: Uint32Array) {
    this.#u32 = words;
  }
  read32(offset: number): number {
    return this.#u32[offset >>> 2]!;
  }
  write32(offset: number, value: number): void {
    this.#u32[offset >>> 2] = value;
  }
}
function uncheckedRead(region: UncheckedRegion, mask: number): number {
  let sum = 0;
  for (let i = 0; i < ITERATIONS; i++) sum = (sum + region.read32((i & mask) << 2)) | 0;
  return sum;
}
function uncheckedWrite(region: UncheckedRegion, mask: number): number {
  for (let i = 0; i < ITERATIONS; i++) region.write32((i & mask) << 2, i);
  return 1;
}
function viewRead(words: Uint32Array, mask: number): number {
  let sum = 0;
  for (let i = 0; i < ITERATIONS; i++) sum = (sum + words[i & mask]!) | 0;
  return sum;
}
function viewWrite(words: Uint32Array, mask: number): number {
  for (let i = 0; i < ITERATIONS; i++) words[i & mask] = i;
  return 1;
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  const compiled = compileC("kernel-mmio", undefined, true);
  if ("skipped" in compiled) return compiled;
  const c = koffi().load(compiled.binary);
  const cRead = c.func("double mmio_read(uintptr_t address, uint32_t mask, long iterations)") as (a: bigint, m: number, n: number) => number;
  const cWrite = c.func("double mmio_write(uintptr_t address, uint32_t mask, long iterations)") as (a: bigint, m: number, n: number) => number;
  const libc = loadLibc();
  const memory = allocateMemfd(libc, BYTES);
  const address = libc.mmap(BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memory.fd!, 0n);
  const region = new MmapRegionMapping(libc, 0, 0n, BYTES, address);
  try {
    const words = new Uint32Array(memory.bytes.buffer, memory.bytes.byteOffset, BYTES / 4);
    const mask = BYTES / 4 - 1;
    const unchecked = new UncheckedRegion(words);
    // Warm-up, so the JIT has compiled the loops before they are timed.
    for (let round = 0; round < 2; round++) {
      mappingRead(region, mask); mappingWrite(region, mask); viewRead(words, mask); viewWrite(words, mask);
      uncheckedRead(unchecked, mask); uncheckedWrite(unchecked, mask);
    }
    type Round = { read: number; write: number; viewRead: number; viewWrite: number; cRead: number; cWrite: number; uRead: number; uWrite: number };
    const rounds: Round[] = [];
    for (let r = 0; r < roundCount(11); r++) {
      rounds.push({
        read: rate(() => mappingRead(region, mask)), cRead: cRead(address, mask, ITERATIONS),
        write: rate(() => mappingWrite(region, mask)), cWrite: cWrite(address, mask, ITERATIONS),
        viewRead: rate(() => viewRead(words, mask)), viewWrite: rate(() => viewWrite(words, mask)),
        uRead: rate(() => uncheckedRead(unchecked, mask)), uWrite: rate(() => uncheckedWrite(unchecked, mask)),
      });
    }
    const mops = (v: number) => v / 1e6;
    const figure = (label: string, baseline: string, pick: (r: Round) => [number, number]): Figure => ({
      label, unit: "Mops/s", baseline, higherIsBetter: true,
      rounds: rounds.map((r) => { const [value, base] = pick(r); return { value: mops(value), baseline: mops(base) }; }),
    });
    return [
      figure("read32 via RegionMapping (bounds-checked)", "C volatile load", (r) => [r.read, r.cRead]),
      figure("write32 via RegionMapping (bounds-checked)", "C volatile store", (r) => [r.write, r.cWrite]),
      figure("read via DMA buffer Uint32Array", "C volatile load", (r) => [r.viewRead, r.cRead]),
      figure("write via DMA buffer Uint32Array", "C volatile store", (r) => [r.viewWrite, r.cWrite]),
      figure("read32 via RegionMapping, what its check costs", "the same accessor unchecked", (r) => [r.read, r.uRead]),
      figure("write32 via RegionMapping, what its check costs", "the same accessor unchecked", (r) => [r.write, r.uWrite]),
    ];
  } finally {
    region.unmap();
    memory.free();
  }
}
