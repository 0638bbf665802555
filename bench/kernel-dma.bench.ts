/**
 * DMA map + unmap pairs per second through KernelContainer against C making the same two
 * ioctls on the same container fd (bench/c/kernel-dma.c, loaded through koffi), in the same Linux
 * with real VFIO, alternating round by round. Beside it: the synchronous form (what the await
 * costs) and the same pairs through Libc.ioctlBuffer alone on a prebuilt argument block (the floor
 * the FFI sets). Where this host has no /dev/vfio, the bench runs itself inside the test guest
 * (scripts/guest/run): the C library is compiled here into .cache/bench/, which the guest shares.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileC } from "./compile-c.js";
import { roundCount, type Figure } from "./rounds.js";
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_TYPE1v2_IOMMU } from "../src/api/constants.js";
import { VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA } from "../src/abi/ioctl-number.js";
import { dmaMapLayout, dmaUnmapLayout } from "../src/abi/vfio/dma-map.js";
import { KernelSystem } from "../src/kernel/system.js";
import { koffi } from "../src/native/ffi.js";
import { loadLibc } from "../src/native/libc.js";
import type { KernelContainer } from "../src/kernel/container.js";

export const name = "DMA map+unmap pairs per second vs C, in the same Linux (guest)";

/** Pairs per side per round, and per interleaved chunk. */
const PAIRS = Number(process.env["VFIO_BENCH_DMA_PAIRS"] ?? 3000);
const CHUNK = 100;
const DEVICE = process.env["VFIO_BENCH_DEVICE"] ?? "0000:00:03.0";
const IOVA = 0x100000n;
const repo = fileURLToPath(new URL("../../", import.meta.url));
const shared = path.join(repo, ".cache", "bench");

async function containerPairs(container: KernelContainer, vaddr: bigint, pairs: number): Promise<number> {
  const map = { flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova: IOVA, size: 4096n };
  const unmap = { flags: 0, iova: IOVA, size: 4096n };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) {
    await container.mapDma(map);
    await container.unmapDma(unmap);
  }
  return pairs / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function floorPairs(container: KernelContainer, vaddr: bigint, pairs: number): number {
  const libc = loadLibc();
  const map = dmaMapLayout.encode({ argsz: dmaMapLayout.size, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova: IOVA, size: 4096n });
  const unmap = dmaUnmapLayout.encode({ argsz: dmaUnmapLayout.size, iova: IOVA, size: 4096n });
  const unmapQuads = new BigUint64Array(unmap.buffer, unmap.byteOffset, dmaUnmapLayout.size / 8);
  const sizeAt = dmaUnmapLayout.offsets.size / 8;
  const fd = container.fd;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) {
    // The kernel writes the unmapped size back; the C baseline resets it too.
    unmapQuads[sizeAt] = 4096n;
    if (libc.ioctlBuffer(fd, VFIO_IOMMU_MAP_DMA, map) < 0 || libc.ioctlBuffer(fd, VFIO_IOMMU_UNMAP_DMA, unmap) < 0) throw new Error("map/unmap failed");
  }
  return pairs / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function syncPairs(container: KernelContainer, vaddr: bigint, pairs: number): number {
  const map = { flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova: IOVA, size: 4096n };
  const unmap = { flags: 0, iova: IOVA, size: 4096n };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) {
    container.mapDmaSync(map);
    container.unmapDmaSync(unmap);
  }
  return pairs / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function measure(library: string): Promise<readonly Figure[] | { skipped: string }> {
  const cPairs = koffi().load(library).func("double dma_pairs(int container, uint64_t vaddr, uint64_t iova, long pairs)") as
    (fd: number, vaddr: bigint, iova: bigint, pairs: number) => number;
  const group = Number(path.basename(readlinkSync(`/sys/bus/pci/devices/${DEVICE}/iommu_group`)));
  const system = new KernelSystem();
  const rounds: { awaited: number; sync: number; floor: number; c: number }[] = [];
  try {
    const container = await system.openContainer();
    const g = await system.openGroup(group);
    await g.setContainer(container);
    await container.setIommu(VFIO_TYPE1v2_IOMMU);
    const memory = system.allocateMemory(4096);
    const vaddr = memory.vaddr;
    // Warm-up: the JIT compiles the TS loops, the kernel's paths are hot for both sides.
    await containerPairs(container, vaddr, 1000);
    syncPairs(container, vaddr, 1000);
    floorPairs(container, vaddr, 1000);
    cPairs(container.fd, vaddr, IOVA, 1000);
    // Each round interleaves the four sides in chunks of CHUNK pairs, so that a stall of the
    // guest (its vCPU descheduled on a busy host) falls on all of them alike.
    for (let r = 0; r < roundCount(11); r++) {
      const seconds = { awaited: 0, sync: 0, floor: 0, c: 0 };
      for (let done = 0; done < PAIRS; done += CHUNK) {
        seconds.awaited += CHUNK / (await containerPairs(container, vaddr, CHUNK));
        const c = cPairs(container.fd, vaddr, IOVA, CHUNK);
        if (c < 0) return { skipped: `the C baseline failed: errno ${-c}` };
        seconds.c += CHUNK / c;
        seconds.sync += CHUNK / syncPairs(container, vaddr, CHUNK);
        seconds.floor += CHUNK / floorPairs(container, vaddr, CHUNK);
      }
      const pairs = Math.ceil(PAIRS / CHUNK) * CHUNK;
      rounds.push({ awaited: pairs / seconds.awaited, sync: pairs / seconds.sync, floor: pairs / seconds.floor, c: pairs / seconds.c });
    }
  } finally {
    await system.close();
  }
  const baseline = "C ioctl pairs, same container";
  const figure = (label: string, pick: (r: (typeof rounds)[number]) => number): Figure => ({
    label, unit: "pairs/s", baseline, higherIsBetter: true, rounds: rounds.map((r) => ({ value: pick(r), baseline: r.c })),
  });
  return [
    figure("map+unmap pairs via KernelContainer.mapDma/unmapDma, awaited", (r) => r.awaited),
    figure("map+unmap pairs via KernelContainer.mapDmaSync/unmapDmaSync", (r) => r.sync),
    figure("map+unmap pairs via Libc.ioctlBuffer alone (the FFI floor)", (r) => r.floor),
  ];
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  if (existsSync("/dev/vfio/vfio")) {
    const prebuilt = path.join(shared, "kernel-dma.so");
    const compiled = process.env["VFIO_GUEST"] && existsSync(prebuilt) ? { binary: prebuilt } : compileC("kernel-dma", undefined, true);
    if ("skipped" in compiled) return compiled;
    const results = await measure(compiled.binary);
    if (process.env["VFIO_BENCH_JSON"]) writeFileSync(process.env["VFIO_BENCH_JSON"], JSON.stringify(results));
    return results;
  }
  const guest = path.join(repo, "scripts", "guest", "run");
  if (!existsSync(guest)) return { skipped: "no /dev/vfio here and no test guest (scripts/guest/run)" };
  mkdirSync(shared, { recursive: true });
  const compiled = compileC("kernel-dma", shared, true);
  if ("skipped" in compiled) return compiled;
  const out = path.join(shared, "kernel-dma.json");
  rmSync(out, { force: true });
  try {
    const passed = ["BENCH_ROUNDS", "VFIO_BENCH_DMA_PAIRS", "VFIO_BENCH_DEVICE"].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
    execFileSync(guest, ["--timeout", "900", "--", "env", "VFIO_BENCH_JSON=.cache/bench/kernel-dma.json", ...passed, "node", "dist/bench/main.js", "kernel-dma"], {
      cwd: repo, stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (error) {
    return { skipped: `the test guest could not run the bench: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!existsSync(out)) return { skipped: "the guest run left no results" };
  return JSON.parse(readFileSync(out, "utf8")) as Figure[];
}
