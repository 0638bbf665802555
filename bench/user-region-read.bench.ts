/**
 * vfio-user REGION_READ round trips: 8 bytes one at a time, 8 bytes with 16 in flight, and
 * 4 KiB one at a time, from the TypeScript client and from a minimal C client (bench/c/) to
 * the TypeScript server hosting edu in its own process (`vfio serve edu`). The C client on
 * the same socket is the baseline: it shows what the server costs without the TS client.
 * With LIBVFIO_USER_BUILD set, the C client also measures libvfio-user's sample server, the
 * reference implementation (VFIO-USER.md: about 33,000 8-byte reads/s one at a time and
 * 100,000–139,000/s with 16 in flight on an idle machine of this kind).
 *
 * BENCH_SECONDS sets the time per measurement (default 0.5); the TS and C sides alternate in
 * BENCH_ROUNDS rounds (default 5).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../src/user/client.js";
import type { BenchModule } from "./main.js";
import { roundCount, type Figure as BenchFigure } from "./rounds.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const seconds = Number(process.env["BENCH_SECONDS"] ?? 0.5);

/** `rounds` rounds of the TS side then its baseline, back to back; throughput and median figures. */
async function alternate(
  label: string, baseline: string, depth: number,
  ts: () => Promise<Figure>, base: () => Figure | Promise<Figure>,
): Promise<BenchFigure[]> {
  const pairs: { ts: Figure; base: Figure }[] = [];
  for (let r = 0; r < roundCount(5); r++) pairs.push({ ts: await ts(), base: await base() });
  const out: BenchFigure[] = [
    { label, unit: "reads/s", baseline, higherIsBetter: true, rounds: pairs.map((p) => ({ value: p.ts.opsPerSecond, baseline: p.base.opsPerSecond })) },
  ];
  if (depth === 1) {
    out.push({ label: `${label} median`, unit: "µs", baseline, higherIsBetter: false, rounds: pairs.map((p) => ({ value: p.ts.medianUs, baseline: p.base.medianUs })) });
  }
  return out;
}

interface Figure {
  readonly opsPerSecond: number;
  /** Median round trip of one-at-a-time reads, µs (0 when pipelined). */
  readonly medianUs: number;
}

function buildCClient(dir: string): string | undefined {
  const out = path.join(dir, "vfio-user-bench");
  try {
    execFileSync("gcc", ["-O2", "-o", out, path.join(repo, "bench/c/vfio-user-bench.c")], { stdio: "ignore" });
    return out;
  } catch {
    return undefined;
  }
}

function runC(binary: string, socket: string, region: number, offset: number, count: number, depth: number, time = seconds): Figure {
  const text = execFileSync(binary, [socket, "read", String(region), String(offset), String(count), String(time), String(depth)], { encoding: "utf8" });
  const m = /ops=(\d+) seconds=([\d.]+) median_ns=(\d+)/.exec(text);
  if (!m) throw new Error(`unexpected output from the C client: ${text}`);
  return { opsPerSecond: Number(m[1]) / Number(m[2]), medianUs: Number(m[3]) / 1000 };
}

async function runTs(socket: string, region: number, offset: bigint, count: number, depth: number): Promise<Figure> {
  const client = await VfioUserClient.connect(socket);
  try {
    const latencies: number[] = [];
    let ops = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(seconds * 1e9));
    const worker = async (): Promise<void> => {
      while (process.hrtime.bigint() < end) {
        const t0 = process.hrtime.bigint();
        await client.read(region, offset, count);
        if (depth === 1) latencies.push(Number(process.hrtime.bigint() - t0));
        ops++;
      }
    };
    await Promise.all(Array.from({ length: depth }, worker));
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    latencies.sort((a, b) => a - b);
    return { opsPerSecond: ops / elapsed, medianUs: latencies.length ? latencies[latencies.length >> 1]! / 1000 : 0 };
  } finally {
    await client.close();
  }
}

async function startProcess(command: string, args: string[], socket: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ["pipe", "ignore", "ignore"] });
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${command} did not create ${socket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

const cases = [
  { label: "8-byte REGION_READ, one at a time", region: 0, offset: 0x80, count: 8, depth: 1 },
  { label: "8-byte REGION_READ, 16 in flight", region: 0, offset: 0x80, count: 8, depth: 16 },
  { label: "4 KiB REGION_READ, one at a time", region: 0, offset: 0, count: 4096, depth: 1 },
] as const;

const bench: BenchModule = {
  name: "vfio-user REGION_READ round trips (TS server hosting edu)",
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), "vfio-user-bench-"));
    try {
      const c = buildCClient(dir);
      if (!c) return { skipped: "gcc is needed to build the C client baseline (bench/c/vfio-user-bench.c)" };
      const results: BenchFigure[] = [];
      const socket = path.join(dir, "edu.sock");
      const server = await startProcess(process.execPath, [path.join(repo, "dist/src/cli/main.js"), "serve", "edu", "--socket", socket], socket);
      try {
        // A fresh server runs cold (V8 compiles its hot path under the first requests): warm it.
        runC(c, socket, 0, 0x80, 8, 16, 0.5);
        for (const k of cases) {
          results.push(...(await alternate(`${k.label}, TS client`, "C client, same server", k.depth,
            () => runTs(socket, k.region, BigInt(k.offset), k.count, k.depth),
            () => runC(c, socket, k.region, k.offset, k.count, k.depth))));
        }
      } finally {
        await stop(server);
      }
      const lvu = process.env["LIBVFIO_USER_BUILD"];
      if (lvu) {
        // The sample server's BAR0 is an 8-byte time_t read at offset 0; it serves one client and exits.
        for (const depth of [1, 16]) {
          const tsSocket = path.join(dir, `edu-${depth}.sock`);
          const ours = await startProcess(process.execPath, [path.join(repo, "dist/src/cli/main.js"), "serve", "edu", "--socket", tsSocket], tsSocket);
          runC(c, tsSocket, 0, 0x80, 8, 16, 0.5);
          // The sample server exits when its client leaves: one reference server per measurement.
          const theirs = async (): Promise<Figure> => {
            const sock = path.join(dir, `ref-${depth}-${Math.random().toString(36).slice(2)}.sock`);
            const p = await startProcess(path.join(lvu, "samples/server"), [sock], sock);
            try {
              return runC(c, sock, 0, 0, 8, depth);
            } finally {
              await stop(p);
            }
          };
          const label = `8-byte REGION_READ, ${depth === 1 ? "one at a time" : "16 in flight"}, C client, TS server`;
          try {
            results.push(...(await alternate(label, "libvfio-user sample server", depth, async () => runC(c, tsSocket, 0, 0x80, 8, depth), theirs)));
          } finally {
            await stop(ours);
          }
        }
      }
      return results;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const { name, run } = bench;
