/**
 * Interrupt latency: eventfd signal → handler on the Node event loop (KernelEventNotifier over
 * koffi.node.poll) against a C epoll loop. A writer thread stamps the monotonic clock and writes
 * the eventfd, as the kernel's eventfd_signal does when VFIO forwards an interrupt.
 */
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import type { BenchResult } from "./main.js";
import { compileC } from "./compile-c.js";
import { loadLibc } from "../src/native/libc.js";
import { KernelEventNotifier } from "../src/native/event-notifier.js";

export const name = "kernel: interrupt latency, eventfd → handler, vs a C epoll loop";

const SAMPLES = 3000;

// The writer: waits ~100 µs, stamps, writes the eventfd, waits for the handler's ack.
const writerSource = `
  const { workerData } = require("node:worker_threads");
  const { writeSync } = require("node:fs");
  const { fd, shared, samples } = workerData;
  const stamp = new BigInt64Array(shared, 0, 1);
  const ack = new Int32Array(shared, 8, 1);
  const one = Buffer.alloc(8); one.writeBigUInt64LE(1n);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < samples; i++) {
    Atomics.wait(pause, 0, 0, 0.1);
    Atomics.store(ack, 0, 0);
    stamp[0] = process.hrtime.bigint();
    writeSync(fd, one);
    while (Atomics.wait(ack, 0, 0, 1000) === "timed-out") {}
  }
`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export async function run(): Promise<readonly BenchResult[] | { skipped: string }> {
  const compiled = compileC("kernel-irq");
  if ("skipped" in compiled) return compiled;
  const notifier = new KernelEventNotifier(loadLibc());
  const shared = new SharedArrayBuffer(16);
  const stamp = new BigInt64Array(shared, 0, 1);
  const ack = new Int32Array(shared, 8, 1);
  const latencies: number[] = [];
  const done = new Promise<void>((resolve) => {
    notifier.onSignal(() => {
      latencies.push(Number(process.hrtime.bigint() - stamp[0]!));
      Atomics.store(ack, 0, 1);
      Atomics.notify(ack, 0);
      if (latencies.length === SAMPLES) resolve();
    });
  });
  const worker = new Worker(writerSource, { eval: true, workerData: { fd: notifier.fd, shared, samples: SAMPLES } });
  await done;
  await worker.terminate();
  notifier.close();
  const c = spawnSync(compiled.binary, [String(SAMPLES)], { encoding: "utf8" });
  if (c.status !== 0) return { skipped: `the C baseline failed (status ${c.status})` };
  const cMedian = Number(/median (\d+)/.exec(c.stdout)?.[1]) / 1000;
  const cP99 = Number(/p99 (\d+)/.exec(c.stdout)?.[1]) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return [
    { label: "median latency, KernelEventNotifier.onSignal", value: percentile(sorted, 50) / 1000, unit: "µs", baseline: { label: "C epoll_wait + read", value: cMedian }, higherIsBetter: false },
    { label: "p99 latency, KernelEventNotifier.onSignal", value: percentile(sorted, 99) / 1000, unit: "µs", baseline: { label: "C epoll_wait + read", value: cP99 }, higherIsBetter: false },
  ];
}
