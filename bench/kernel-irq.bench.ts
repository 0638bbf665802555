/**
 * Interrupt latency: eventfd signal → handler on the Node event loop (KernelEventNotifier's
 * onSignal over a uv_poll_t) against a C epoll loop, alternating in rounds. One C writer
 * process (bench/c/kernel-irq.c) signals both receivers the same way, stamping the monotonic
 * clock just before its write(2) as the kernel's eventfd_signal does when VFIO forwards an
 * interrupt, so only the receiving side differs.
 */
import { spawn } from "node:child_process";
import type { Figure } from "./rounds.js";
import { compileC } from "./compile-c.js";
import { percentile, roundCount } from "./rounds.js";
import { loadLibc } from "../src/native/libc.js";
import { KernelEventNotifier } from "../src/native/event-notifier.js";
import { allocateMemfd } from "../src/native/process-memory.js";

export const name = "interrupt latency, eventfd → handler, vs a C epoll loop";

const SAMPLES = Number(process.env["VFIO_BENCH_IRQ_SAMPLES"] ?? 2000);

/** Runs `binary` with the eventfd as fd 3 and the shared page as fd 4; resolves with its stdout. */
function child(binary: string, args: string[], fds: [number, number]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(binary, args, { stdio: ["ignore", "pipe", "inherit", fds[0], fds[1]] });
    let out = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (status) => (status === 0 ? resolve(out) : reject(new Error(`${args[0]} exited with status ${status}`))));
  });
}

interface Latency {
  readonly median: number;
  readonly p99: number;
}

async function tsRound(binary: string): Promise<Latency> {
  const libc = loadLibc();
  const page = allocateMemfd(libc, 4096);
  const notifier = new KernelEventNotifier(libc);
  try {
    const stamp = new BigInt64Array(page.bytes.buffer, page.bytes.byteOffset, 1);
    const flags = new Int32Array(page.bytes.buffer, page.bytes.byteOffset + 8, 2);
    const latencies = new Float64Array(SAMPLES);
    let n = 0;
    const received = new Promise<void>((resolve) => {
      notifier.onSignal(() => {
        latencies[n++] = Number(process.hrtime.bigint() - stamp[0]!);
        Atomics.store(flags, 0, 1);
        if (n === SAMPLES) resolve();
      });
    });
    Atomics.store(flags, 1, 1);
    await Promise.all([received, child(binary, ["writer", String(SAMPLES)], [notifier.fd!, page.fd!])]);
    return { median: percentile(latencies, 50) / 1000, p99: percentile(latencies, 99) / 1000 };
  } finally {
    notifier.close();
    page.free();
  }
}

async function cRound(binary: string): Promise<Latency> {
  const libc = loadLibc();
  const page = allocateMemfd(libc, 4096);
  const notifier = new KernelEventNotifier(libc);
  try {
    const fds: [number, number] = [notifier.fd!, page.fd!];
    const [out] = await Promise.all([child(binary, ["receive", String(SAMPLES)], fds), child(binary, ["writer", String(SAMPLES)], fds)]);
    return { median: Number(/median (\d+)/.exec(out)?.[1]) / 1000, p99: Number(/p99 (\d+)/.exec(out)?.[1]) / 1000 };
  } finally {
    notifier.close();
    page.free();
  }
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  const compiled = compileC("kernel-irq");
  if ("skipped" in compiled) return compiled;
  const rounds: { ts: Latency; c: Latency }[] = [];
  try {
    for (let r = 0; r < roundCount(7); r++) rounds.push({ ts: await tsRound(compiled.binary), c: await cRound(compiled.binary) });
  } catch (error) {
    return { skipped: `the C side failed: ${(error as Error).message}` };
  }
  const baseline = "C epoll_wait + read";
  return [
    { label: "median latency, KernelEventNotifier.onSignal", unit: "µs", baseline, higherIsBetter: false, rounds: rounds.map((r) => ({ value: r.ts.median, baseline: r.c.median })) },
    { label: "p99 latency, KernelEventNotifier.onSignal", unit: "µs", baseline, higherIsBetter: false, rounds: rounds.map((r) => ({ value: r.ts.p99, baseline: r.c.p99 })) },
  ];
}
