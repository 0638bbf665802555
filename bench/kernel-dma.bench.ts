/**
 * DMA map + unmap pairs per second through KernelContainer (koffi ioctls, layouts from abi/)
 * against C making the same two ioctls, both in the same Linux with real VFIO. Where this host
 * has no /dev/vfio, the bench runs itself inside the test guest (scripts/guest/run): the C
 * baseline is compiled here, statically, into .cache/bench/, which the guest shares.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./main.js";
import { compileC } from "./compile-c.js";
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_TYPE1v2_IOMMU } from "../src/api/constants.js";
import { KernelSystem } from "../src/kernel/system.js";

export const name = "kernel: DMA map+unmap pairs per second vs C, in the same Linux (guest)";

const PAIRS = Number(process.env["VFIO_BENCH_DMA_PAIRS"] ?? 20_000);
const DEVICE = process.env["VFIO_BENCH_DEVICE"] ?? "0000:00:03.0";
const repo = fileURLToPath(new URL("../../", import.meta.url));
const shared = path.join(repo, ".cache", "bench");

async function measure(binary: string): Promise<readonly BenchResult[] | { skipped: string }> {
  const group = Number(path.basename(readlinkSync(`/sys/bus/pci/devices/${DEVICE}/iommu_group`)));
  const system = new KernelSystem();
  let jsRate: number;
  try {
    const container = await system.openContainer();
    const g = await system.openGroup(group);
    await g.setContainer(container);
    await container.setIommu(VFIO_TYPE1v2_IOMMU);
    const memory = system.allocateMemory(4096);
    const map = { flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: memory.vaddr, iova: 0x100000n, size: 4096n };
    const unmap = { flags: 0, iova: 0x100000n, size: 4096n };
    for (let i = 0; i < 200; i++) {
      await container.mapDma(map);
      await container.unmapDma(unmap);
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PAIRS; i++) {
      await container.mapDma(map);
      await container.unmapDma(unmap);
    }
    jsRate = PAIRS / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await system.close();
  }
  const c = spawnSync(binary, [String(group), String(PAIRS)], { encoding: "utf8" });
  if (c.status !== 0) return { skipped: `the C baseline failed: ${c.stderr.trim()}` };
  const cRate = Number(/pairs (\d+)/.exec(c.stdout)?.[1]);
  return [{ label: "map+unmap pairs via KernelContainer", value: jsRate, unit: "pairs/s", baseline: { label: "C ioctl pairs", value: cRate }, higherIsBetter: true }];
}

export async function run(): Promise<readonly BenchResult[] | { skipped: string }> {
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
    execFileSync(guest, ["--timeout", "600", "--", "env", "VFIO_BENCH_JSON=.cache/bench/kernel-dma.json", "node", "dist/bench/main.js", "kernel-dma"], {
      cwd: repo, stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (error) {
    return { skipped: `the test guest could not run the bench: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!existsSync(out)) return { skipped: "the guest run left no results" };
  return JSON.parse(readFileSync(out, "utf8")) as BenchResult[];
}
