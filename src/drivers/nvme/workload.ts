/**
 * A block I/O workload on one namespace, as fio's `rw=randread`/`read` with `iodepth` per queue
 * would run it: every I/O queue keeps `queueDepth` commands in flight through the polled form
 * (NvmeNamespace.submitRead/submitWrite), each completion records its latency and submits
 * the next command from its callback. No promise per command.
 */
import type { DmaBuffer } from "../../api/dma-space.js";
import { VfioUsageError } from "../../api/errors.js";
import type { NvmeController } from "./controller.js";
import type { NvmeNamespace } from "./namespace.js";
import type { QueuePair } from "./queue-pair.js";

export interface WorkloadOptions {
  readonly access: "random" | "sequential";
  readonly operation: "read" | "write";
  /** Bytes per command: a multiple of the block size, at most MDTS. */
  readonly blockSize: number;
  /** Commands in flight per queue (at most the queue's depth). */
  readonly queueDepth: number;
  /** How many of the controller's I/O queues to use (default all). */
  readonly queues?: number;
  /** Run time in ms; or stop after `commands` completions, whichever comes first. */
  readonly durationMs: number;
  readonly commands?: number;
  /** Called about every `progressMs` (default 1000) with the figures so far. */
  readonly onProgress?: (progress: WorkloadProgress) => void;
  readonly progressMs?: number;
  /** Seed of the random LBA sequence (default 1), so runs can be repeated. */
  readonly seed?: number;
}

export interface WorkloadProgress {
  readonly elapsedMs: number;
  readonly completed: number;
  readonly iops: number;
  readonly mibPerSecond: number;
}

export interface WorkloadResult extends WorkloadProgress {
  readonly errors: number;
  /** First failure's status (CQE status field, or a STATUS_* value), when errors > 0. */
  readonly firstErrorStatus?: number;
  /** Completion latency percentiles and mean, microseconds. */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
}

/** Runs the workload; resolves once every command it started has completed. */
export async function runWorkload(controller: NvmeController, ns: NvmeNamespace, options: WorkloadOptions): Promise<WorkloadResult> {
  const { blockSize, queueDepth } = options;
  if (!Number.isInteger(blockSize) || blockSize < ns.blockSize || blockSize % ns.blockSize !== 0 || blockSize > controller.maxTransferBytes) {
    throw new VfioUsageError(`block size ${blockSize} must be a multiple of the ${ns.blockSize}-byte block, at most ${controller.maxTransferBytes} (MDTS)`, "EINVAL");
  }
  const queues = controller.ioQueues.slice(0, options.queues ?? controller.ioQueues.length);
  const depth = Math.min(...queues.map((q) => q.depth));
  if (!Number.isInteger(queueDepth) || queueDepth < 1 || queueDepth > depth) {
    throw new VfioUsageError(`queue depth ${queueDepth} must be 1 to ${depth} (the queues' depth)`, "EINVAL");
  }
  const blocks = blockSize / ns.blockSize;
  const span = ns.blockCount / BigInt(blocks);
  if (span < 1n) throw new VfioUsageError(`namespace ${ns.nsid} is smaller than one ${blockSize}-byte command`, "EINVAL");
  const slots = queues.length * queueDepth;
  const buffer: DmaBuffer = await controller.allocateBuffer(slots * blockSize);
  try {
    return await new Promise<WorkloadResult>((resolve) => {
      const latencies = new Float64Array(Math.min(options.commands ?? 1 << 22, 1 << 22));
      let recorded = 0;
      let completed = 0;
      let errors = 0;
      let firstErrorStatus: number | undefined;
      let inFlight = 0;
      let sequential = 0n;
      let random = (options.seed ?? 1) >>> 0 || 1;
      const started = performance.now();
      const stopAt = started + options.durationMs;
      let stopping = false;
      const nextLba = (): bigint => {
        if (options.access === "sequential") {
          const lba = sequential;
          sequential = (sequential + 1n) % span;
          return lba * BigInt(blocks);
        }
        // xorshift32: cheap, and repeatable for a seed.
        random ^= random << 13;
        random >>>= 0;
        random ^= random >>> 17;
        random ^= random << 5;
        random >>>= 0;
        return (BigInt(random) % span) * BigInt(blocks);
      };
      const progress = (): WorkloadProgress => {
        const elapsedMs = performance.now() - started;
        const iops = completed / (elapsedMs / 1000);
        return { elapsedMs, completed, iops, mibPerSecond: (iops * blockSize) / (1 << 20) };
      };
      // Progress is reported from the completions themselves: a backend whose completions chain
      // through promises (the emulated machine) can keep the event loop from reaching its timers.
      const progressMs = options.progressMs ?? 1000;
      let nextProgress = started + progressMs;
      const finish = () => {
        clearTimeout(deadline);
        const sorted = latencies.subarray(0, recorded).sort();
        const at = (q: number) => (recorded === 0 ? 0 : sorted[Math.min(recorded - 1, Math.floor(q * recorded))]!);
        let sum = 0;
        for (let i = 0; i < recorded; i++) sum += sorted[i]!;
        resolve({
          ...progress(),
          errors,
          ...(firstErrorStatus === undefined ? {} : { firstErrorStatus }),
          latencyUs: { p50: at(0.5), p99: at(0.99), max: recorded ? sorted[recorded - 1]! : 0, mean: recorded ? sum / recorded : 0 },
        });
      };
      const deadline = setTimeout(() => (stopping = true), options.durationMs);
      const issue = (queue: QueuePair, slot: number): void => {
        const submittedAt = performance.now();
        const callback = (status: number): void => {
          inFlight--;
          completed++;
          const now = performance.now();
          if (options.onProgress && now >= nextProgress) {
            nextProgress += progressMs;
            options.onProgress(progress());
          }
          if (recorded < latencies.length) latencies[recorded++] = (now - submittedAt) * 1000;
          if (status !== 0) {
            errors++;
            firstErrorStatus ??= status;
          }
          if (!stopping && (now >= stopAt || (options.commands !== undefined && completed + inFlight >= options.commands) || errors > 0)) stopping = true;
          if (!stopping) issue(queue, slot);
          else if (inFlight === 0) finish();
        };
        const submit = options.operation === "read" ? ns.submitRead : ns.submitWrite;
        if (submit.call(ns, queue, nextLba(), blocks, buffer, slot * blockSize, callback)) inFlight++;
        else if (inFlight === 0) finish();
      };
      queues.forEach((queue, q) => {
        for (let i = 0; i < queueDepth; i++) issue(queue, q * queueDepth + i);
      });
      controller.kick();
    });
  } finally {
    await buffer.free();
  }
}
