/**
 * Register and DMA-buffer access through mapped typed-array views (the kernel backend's data
 * path) against C doing the same loads and stores on the same memfd pages. On the host: a memfd
 * stands in for a BAR, since what is measured is the JS side of an mmap, not the device.
 */
import { spawnSync } from "node:child_process";
import { roundCount, type Figure } from "./rounds.js";
import { compileC } from "./compile-c.js";
import { loadLibc, MAP_SHARED, PROT_READ, PROT_WRITE } from "../src/native/libc.js";
import { allocateMemfd } from "../src/native/process-memory.js";
import { MmapRegionMapping } from "../src/native/region-mapping.js";

export const name = "mapped register and DMA-buffer access vs C on the same memfd";

const BYTES = 64 * 1024;
const ITERATIONS = 50_000_000;

/** Operations per second of `loop`, which does ITERATIONS accesses and returns a checksum. */
function rate(loop: () => number): number {
  const t0 = process.hrtime.bigint();
  const sum = loop();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
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
  const compiled = compileC("kernel-mmio");
  if ("skipped" in compiled) return compiled;
  const libc = loadLibc();
  const memory = allocateMemfd(libc, BYTES);
  const address = libc.mmap(BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memory.fd!, 0n);
  const region = new MmapRegionMapping(libc, 0, 0n, BYTES, address);
  try {
    const words = new Uint32Array(memory.bytes.buffer, memory.bytes.byteOffset, BYTES / 4);
    const mask = BYTES / 4 - 1;
    // Warm-up, so the JIT has compiled the loops before they are timed.
    for (let round = 0; round < 2; round++) {
      mappingRead(region, mask); mappingWrite(region, mask); viewRead(words, mask); viewWrite(words, mask);
    }
    const rounds: { read: number; write: number; viewRead: number; viewWrite: number; cRead: number; cWrite: number }[] = [];
    for (let r = 0; r < roundCount(7); r++) {
      const js = { read: rate(() => mappingRead(region, mask)), write: rate(() => mappingWrite(region, mask)), viewRead: rate(() => viewRead(words, mask)), viewWrite: rate(() => viewWrite(words, mask)) };
      const c = spawnSync(compiled.binary, [String(BYTES), String(ITERATIONS)], { stdio: ["ignore", "pipe", "inherit", memory.fd!], encoding: "utf8" });
      if (c.status !== 0) return { skipped: `the C baseline failed (status ${c.status})` };
      rounds.push({ ...js, cRead: Number(/read (\d+)/.exec(c.stdout)?.[1]), cWrite: Number(/write (\d+)/.exec(c.stdout)?.[1]) });
    }
    const mops = (v: number) => v / 1e6;
    const figure = (label: string, baseline: string, pick: (r: (typeof rounds)[number]) => [number, number]): Figure => ({
      label, unit: "Mops/s", baseline, higherIsBetter: true,
      rounds: rounds.map((r) => { const [value, base] = pick(r); return { value: mops(value), baseline: mops(base) }; }),
    });
    return [
      figure("read32 via RegionMapping (bounds-checked)", "C volatile load", (r) => [r.read, r.cRead]),
      figure("write32 via RegionMapping (bounds-checked)", "C volatile store", (r) => [r.write, r.cWrite]),
      figure("read via DMA buffer Uint32Array", "C volatile load", (r) => [r.viewRead, r.cRead]),
      figure("write via DMA buffer Uint32Array", "C volatile store", (r) => [r.viewWrite, r.cWrite]),
    ];
  } finally {
    region.unmap();
    memory.free();
  }
}
