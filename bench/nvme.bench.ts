/**
 * 4 KiB random reads on QEMU's NVMe controller (00:06.0) in the test guest: the vfio-ts
 * userspace driver (drivers/nvme, polled completions as SPDK takes them, through VFIO) against the Linux
 * kernel's nvme driver (a C program of ours: O_DIRECT + native AIO on /dev/nvme0n1, as fio's
 * libaio engine), at queue depth 1 and 32, on the same controller in the same boot: each round
 * binds 00:06.0 to vfio-pci for the TS side, then to nvme for the C side. IOPS, p50 and p99.
 * Where this host has no /dev/vfio the bench runs itself in the guest (scripts/guest/run).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileC } from "./compile-c.js";
import { roundCount, type Figure } from "./rounds.js";
import { openDevice } from "../src/api/open-device.js";
import { NvmeController, runWorkload } from "../src/drivers/nvme/index.js";
import { KernelSystem } from "../src/kernel/system.js";

export const name = "NVMe 4 KiB random read: userspace driver vs the kernel's nvme driver, same controller (guest)";

const DEVICE = "0000:00:06.0";
const SECONDS = Number(process.env["VFIO_BENCH_NVME_SECONDS"] ?? 3);
const repo = fileURLToPath(new URL("../../", import.meta.url));
const shared = path.join(repo, ".cache", "bench");
/** nvme.ko and what it needs, in load order (modinfo depends; crc-t10dif and crc64-rocksoft ask the crypto API for their generic algorithms). */
const MODULES = ["crct10dif_common", "crct10dif_generic", "crc-t10dif", "crc64", "crc64_rocksoft_generic", "crc64-rocksoft", "t10-pi", "nvme-core", "nvme"];

interface Sample { readonly iops: number; readonly p50: number; readonly p99: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Moves 00:06.0 to `driver` (driver_override + drivers_probe, as scripts/guest/init binds). */
async function bindTo(driver: "vfio-pci" | "nvme"): Promise<void> {
  const dev = `/sys/bus/pci/devices/${DEVICE}`;
  if (existsSync(`${dev}/driver`)) writeFileSync(`${dev}/driver/unbind`, DEVICE);
  writeFileSync(`${dev}/driver_override`, driver);
  writeFileSync("/sys/bus/pci/drivers_probe", DEVICE);
  if (driver === "nvme") {
    for (let i = 0; i < 500 && !blockDevice(); i++) await sleep(20);
    if (!blockDevice()) throw new Error("the nvme driver made no block device for 00:06.0");
  }
}

function blockDevice(): string | undefined {
  const dir = `/sys/bus/pci/devices/${DEVICE}/nvme`;
  if (!existsSync(dir)) return undefined;
  for (const ctrl of readdirSync(dir)) {
    const ns = readdirSync(`${dir}/${ctrl}`).find((n) => /^nvme\d+n\d+$/.test(n));
    if (ns && existsSync(`/dev/${ns}`)) return `/dev/${ns}`;
  }
  return undefined;
}

function loadNvmeDriver(): void {
  if (existsSync("/sys/module/nvme")) return;
  const dir = `/lib/modules/${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}`;
  for (const m of MODULES) {
    const file = path.join(dir, `${m}.ko`);
    if (existsSync(file)) execFileSync("insmod", [file], { stdio: "ignore" });
  }
}

async function tsSamples(depths: readonly number[]): Promise<Sample[]> {
  const system = new KernelSystem();
  const opened = await openDevice(system, DEVICE);
  try {
    const controller = await NvmeController.open(opened.device, opened.dma, { completion: "poll", ioQueues: 1, queueDepth: 32 });
    try {
      const ns = controller.namespace();
      await runWorkload(controller, ns, { access: "random", operation: "read", blockSize: 4096, queueDepth: 32, durationMs: 500 }); // warm up
      const out: Sample[] = [];
      for (const queueDepth of depths) {
        const r = await runWorkload(controller, ns, { access: "random", operation: "read", blockSize: 4096, queueDepth, durationMs: SECONDS * 1000 });
        if (r.errors > 0) throw new Error(`${r.errors} reads failed`);
        out.push({ iops: r.iops, p50: r.latencyUs.p50, p99: r.latencyUs.p99 });
      }
      return out;
    } finally {
      await controller.close();
    }
  } finally {
    await opened.close();
    await system.close();
  }
}

function cSample(binary: string, device: string, depth: number): Sample {
  const c = spawnSync(binary, [device, String(depth), String(SECONDS)], { encoding: "utf8" });
  const m = /iops (\d+) p50 ([\d.]+) p99 ([\d.]+)/.exec(c.stdout);
  if (c.status !== 0 || !m) throw new Error(`the C baseline failed: ${c.stderr.trim()}`);
  return { iops: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]) };
}

async function measure(binary: string): Promise<readonly Figure[]> {
  loadNvmeDriver();
  const depths = [1, 32];
  const rounds: { ts: Sample[]; c: Sample[] }[] = [];
  try {
    for (let r = 0; r < roundCount(3); r++) {
      await bindTo("vfio-pci");
      const ts = await tsSamples(depths);
      await bindTo("nvme");
      const device = blockDevice()!;
      // The kernel driver's own warm-up, as the TS side had.
      cSample(binary, device, 32);
      rounds.push({ ts, c: depths.map((d) => cSample(binary, device, d)) });
    }
  } finally {
    await bindTo("vfio-pci");
  }
  const baseline = "kernel nvme driver (C, O_DIRECT + AIO), same controller";
  const figures: Figure[] = [];
  depths.forEach((depth, i) => {
    const pick = (k: keyof Sample) => rounds.map((r) => ({ value: r.ts[i]![k], baseline: r.c[i]![k] }));
    figures.push({ label: `4 KiB random read IOPS at QD${depth}`, unit: "IOPS", baseline, higherIsBetter: true, rounds: pick("iops") });
    figures.push({ label: `4 KiB random read p50 latency at QD${depth}`, unit: "µs", baseline, higherIsBetter: false, rounds: pick("p50") });
    figures.push({ label: `4 KiB random read p99 latency at QD${depth}`, unit: "µs", baseline, higherIsBetter: false, rounds: pick("p99") });
  });
  return figures;
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  if (existsSync("/dev/vfio/vfio")) {
    if (!process.env["VFIO_GUEST"]) return { skipped: "rebinding 00:06.0 between vfio-pci and nvme is for the test guest only" };
    const prebuilt = path.join(shared, "nvme-kernel");
    const compiled = existsSync(prebuilt) ? { binary: prebuilt } : compileC("nvme-kernel");
    if ("skipped" in compiled) return compiled;
    const results = await measure(compiled.binary);
    if (process.env["VFIO_BENCH_JSON"]) writeFileSync(process.env["VFIO_BENCH_JSON"], JSON.stringify(results));
    return results;
  }
  const guest = path.join(repo, "scripts", "guest", "run");
  if (!existsSync(guest)) return { skipped: "no /dev/vfio here and no test guest (scripts/guest/run)" };
  mkdirSync(shared, { recursive: true });
  const compiled = compileC("nvme-kernel", shared);
  if ("skipped" in compiled) return compiled;
  const out = path.join(shared, "nvme.json");
  rmSync(out, { force: true });
  try {
    execFileSync(guest, ["--timeout", "900", "--", "env", "VFIO_BENCH_JSON=.cache/bench/nvme.json", "node", "dist/bench/main.js", "nvme"], {
      cwd: repo, stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (error) {
    return { skipped: `the test guest could not run the bench: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!existsSync(out)) return { skipped: "the guest run left no results" };
  return JSON.parse(readFileSync(out, "utf8")) as Figure[];
}
