/**
 * Interrupt latency: eventfd signal → handler on the Node event loop (KernelEventNotifier's
 * onSignal over a uv_poll_t) against a C epoll loop on the same thread (bench/c/kernel-irq.c,
 * called through koffi, which blocks the event loop for its round), alternating in rounds. One
 * C writer process (bench/c/kernel-irq-writer.c) signals both receivers the same way, stamping
 * the monotonic clock just before its write(2) as the kernel's eventfd_signal does when VFIO
 * forwards an interrupt, so only the receiving side differs.
 */
import { spawn } from "node:child_process";
import type { Figure } from "./rounds.js";
import { compileC } from "./compile-c.js";
import { percentile, roundCount } from "./rounds.js";
import { koffi } from "../src/native/ffi.js";
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

type Receive = (efd: number, page: bigint, samples: number, latencies: BigInt64Array) => number;

async function tsRound(writer: string): Promise<Latency> {
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
    await Promise.all([received, child(writer, [String(SAMPLES)], [notifier.fd!, page.fd!])]);
    return { median: percentile(latencies, 50) / 1000, p99: percentile(latencies, 99) / 1000 };
  } finally {
    notifier.close();
    page.free();
  }
}

async function cRound(writer: string, receive: Receive): Promise<Latency> {
  const libc = loadLibc();
  const page = allocateMemfd(libc, 4096);
  const notifier = new KernelEventNotifier(libc);
  try {
    // spawn() has forked and exec'd the writer when it returns; it waits for the receiver's ready flag.
    const exited = child(writer, [String(SAMPLES)], [notifier.fd!, page.fd!]);
    const latencies = new BigInt64Array(SAMPLES);
    const status = receive(notifier.fd!, page.vaddr, SAMPLES, latencies);
    await exited;
    if (status !== 0) throw new Error("the C receiver failed");
    const ns = Array.from(latencies, Number);
    return { median: percentile(ns, 50) / 1000, p99: percentile(ns, 99) / 1000 };
  } finally {
    notifier.close();
    page.free();
  }
}

export async function run(): Promise<readonly Figure[] | { skipped: string }> {
  const writer = compileC("kernel-irq-writer");
  if ("skipped" in writer) return writer;
  const library = compileC("kernel-irq", undefined, true);
  if ("skipped" in library) return library;
  const receive = koffi().load(library.binary).func("int irq_receive(int efd, uintptr_t page, long samples, _Out_ int64_t *latencies)") as Receive;
  const rounds: { ts: Latency; c: Latency }[] = [];
  try {
    for (let r = 0; r < roundCount(9); r++) rounds.push({ ts: await tsRound(writer.binary), c: await cRound(writer.binary, receive) });
  } catch (error) {
    return { skipped: `the C side failed: ${(error as Error).message}` };
  }
  const baseline = "C epoll_wait + read, same thread";
  return [
    { label: "median latency, KernelEventNotifier.onSignal", unit: "µs", baseline, higherIsBetter: false, rounds: rounds.map((r) => ({ value: r.ts.median, baseline: r.c.median })) },
    { label: "p99 latency, KernelEventNotifier.onSignal", unit: "µs", baseline, higherIsBetter: false, rounds: rounds.map((r) => ({ value: r.ts.p99, baseline: r.c.p99 })) },
  ];
}
