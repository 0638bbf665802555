/**
 * DMA map + unmap pairs per second through KernelContainer against C making the same two
 * ioctls, both in the same Linux with real VFIO, alternating in rounds; beside it, the same pairs
 * through Libc.ioctlBuffer alone on a prebuilt argument block, which is the floor the FFI sets. Where
 * this host has no /dev/vfio, the bench runs itself inside the test guest (scripts/guest/run):
 * the C baseline is compiled here, statically, into .cache/bench/, which the guest shares.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileC } from "./compile-c.js";
import { roundCount, type Figure } from "./rounds.js";
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_TYPE1v2_IOMMU } from "../src/api/constants.js";
import { VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA } from "../src/abi/ioctl-number.js";
import { dmaMapLayout, dmaUnmapLayout } from "../src/abi/vfio/dma-map.js";
import { KernelSystem } from "../src/kernel/system.js";
import { loadLibc } from "../src/native/libc.js";
import type { KernelContainer } from "../src/kernel/container.js";

export const name = "DMA map+unmap pairs per second vs C, in the same Linux (guest)";

const PAIRS = Number(process.env["VFIO_BENCH_DMA_PAIRS"] ?? 10_000);
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

/** One round of the TS side: a fresh container on the group (the C side needs the group closed), warmed, then timed. */
async function tsRound(group: number, pairs: number): Promise<{ container: number; floor: number }> {
  const system = new KernelSystem();
  try {
    const container = await system.openContainer();
    const g = await system.openGroup(group);
    await g.setContainer(container);
    await container.setIommu(VFIO_TYPE1v2_IOMMU);
    const memory = system.allocateMemory(4096);
    await containerPairs(container, memory.vaddr, 1000);
    floorPairs(container, memory.vaddr, 1000);
    return { container: await containerPairs(container, memory.vaddr, pairs), floor: floorPairs(container, memory.vaddr, pairs) };
  } finally {
    await system.close();
  }
}

async function measure(binary: string): Promise<readonly Figure[] | { skipped: string }> {
  const group = Number(path.basename(readlinkSync(`/sys/bus/pci/devices/${DEVICE}/iommu_group`)));
  const rounds: { container: number; floor: number; c: number }[] = [];
  for (let r = 0; r < roundCount(7); r++) {
    const ts = await tsRound(group, PAIRS);
    const c = spawnSync(binary, [String(group), String(PAIRS)], { encoding: "utf8" });
    if (c.status !== 0) return { skipped: `the C baseline failed: ${c.stderr.trim()}` };
    rounds.push({ ...ts, c: Number(/pairs (\d+)/.exec(c.stdout)?.[1]) });
  }
  const baseline = "C ioctl pairs, same guest";
  return [
    { label: "map+unmap pairs via KernelContainer (awaited)", unit: "pairs/s", baseline, higherIsBetter: true, rounds: rounds.map((r) => ({ value: r.container, baseline: r.c })) },
    { label: "map+unmap pairs via Libc.ioctlBuffer alone (the FFI floor)", unit: "pairs/s", baseline, higherIsBetter: true, rounds: rounds.map((r) => ({ value: r.floor, baseline: r.c })) },
  ];
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  if (existsSync("/dev/vfio/vfio")) {
    const prebuilt = path.join(shared, "kernel-dma");
    const compiled = process.env["VFIO_GUEST"] && existsSync(prebuilt) ? { binary: prebuilt } : compileC("kernel-dma");
    if ("skipped" in compiled) return compiled;
    const results = await measure(compiled.binary);
    if (process.env["VFIO_BENCH_JSON"]) writeFileSync(process.env["VFIO_BENCH_JSON"], JSON.stringify(results));
    return results;
  }
  const guest = path.join(repo, "scripts", "guest", "run");
  if (!existsSync(guest)) return { skipped: "no /dev/vfio here and no test guest (scripts/guest/run)" };
  mkdirSync(shared, { recursive: true });
  const compiled = compileC("kernel-dma", shared);
  if ("skipped" in compiled) return compiled;
  const out = path.join(shared, "kernel-dma.json");
  rmSync(out, { force: true });
  try {
    execFileSync(guest, ["--timeout", "900", "--", "env", "VFIO_BENCH_JSON=.cache/bench/kernel-dma.json", "node", "dist/bench/main.js", "kernel-dma"], {
      cwd: repo, stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (error) {
    return { skipped: `the test guest could not run the bench: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!existsSync(out)) return { skipped: "the guest run left no results" };
  return JSON.parse(readFileSync(out, "utf8")) as Figure[];
}
