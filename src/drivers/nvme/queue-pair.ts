/**
 * One submission queue and its completion queue (NVMe Base Specification 2.0, §3.3.1
 * "Memory-Based Transport Queue Model"): rings in DMA memory, doorbells in BAR0, written and
 * polled synchronously through the BAR mapping (no promise per doorbell).
 *
 * - Submission (§3.3.1.2): the entry is written at the tail, then the tail doorbell.
 * - Completion (§4.6, §3.3.1.3): an entry is new when its Phase Tag equals the phase the host
 *   expects; the phase flips each time the head wraps. Consumed entries are released by one
 *   head doorbell write per batch.
 * - Command identifiers are slot numbers 0..depth-1, so at most depth = entries - 1 commands are
 *   in flight and neither ring can overflow (a queue is full with one free entry, §3.3.1.5).
 * - Every command has a deadline; one timer per queue checks the oldest. A command that timed
 *   out keeps its identifier until its completion arrives or the queue goes, so a late
 *   completion can never be taken for another command's.
 */
import type { DmaBuffer } from "../../api/dma-space.js";
import { CQE_BYTES, SQE_BYTES, writeSubmissionEntry, type NvmeCommand } from "./command.js";
import { buildPrps, type PrpListArea } from "./prp.js";
import type { DoorbellWriter } from "./register-port.js";
import { completionDoorbell, submissionDoorbell } from "./registers.js";

/** What a completion callback receives instead of a Status Field when the command did not complete. */
export const STATUS_TIMED_OUT = -1;
/** The queue was closed (or deleted) with the command still outstanding. */
export const STATUS_ABORTED = -2;

/**
 * Called once per command: `status` is the CQE's 15-bit Status Field (0: success), or
 * STATUS_TIMED_OUT / STATUS_ABORTED; `result` is CQE Dword 0 (§4.6, command specific).
 */
export type CompletionCallback = (status: number, result: number) => void;

const FREE = 0;
const BUSY = 1;
/** Timed out or aborted: the callback has been called, the identifier waits for its completion. */
const ABANDONED = 2;

export interface QueuePairMemory {
  readonly sq: DmaBuffer;
  readonly cq: DmaBuffer;
  /** PRP list areas, one per command slot (depth of them), or none where transfers stay within two pages. */
  readonly prpLists: readonly PrpListArea[];
}

export interface QueuePairOptions {
  readonly qid: number;
  /** Ring entries (both rings): at most CAP.MQES + 1. */
  readonly entries: number;
  readonly doorbellStride: number;
  /** The controller's memory page size (CC.MPS). */
  readonly pageSize: number;
  readonly timeoutMs: number;
  /** For messages: "controller 0000:00:06.0 queue 1". */
  readonly target: string;
}

export class QueuePair {
  readonly qid: number;
  readonly entries: number;
  /** Commands that may be in flight at once. */
  readonly depth: number;
  readonly target: string;
  readonly timeoutMs: number;
  readonly #bar: DoorbellWriter;
  readonly #sq: Uint32Array;
  readonly #cq: Uint32Array;
  readonly #sqDoorbell: number;
  readonly #cqDoorbell: number;
  readonly #pageSize: number;
  readonly #lists: readonly PrpListArea[];
  #sqTail = 0;
  #cqHead = 0;
  #phase = 1;
  readonly #state: Uint8Array;
  readonly #callbacks: (CompletionCallback | undefined)[];
  readonly #names: string[];
  readonly #deadlines: Float64Array;
  readonly #free: Uint16Array;
  #freeCount: number;
  #busy = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #closed = false;
  /** Commands waiting for a free slot (execute() on a full queue), in order. */
  readonly #waiting: { command: NvmeCommand; callback: CompletionCallback }[] = [];
  /** Completions whose identifier named no outstanding command (a controller bug or a hostile model). */
  spuriousCompletions = 0;

  constructor(bar: DoorbellWriter, memory: QueuePairMemory, options: QueuePairOptions) {
    this.qid = options.qid;
    this.entries = options.entries;
    this.depth = options.entries - 1;
    this.target = options.target;
    this.timeoutMs = options.timeoutMs;
    this.#bar = bar;
    this.#sq = new Uint32Array(memory.sq.bytes.buffer, memory.sq.bytes.byteOffset, (options.entries * SQE_BYTES) / 4);
    this.#cq = new Uint32Array(memory.cq.bytes.buffer, memory.cq.bytes.byteOffset, (options.entries * CQE_BYTES) / 4);
    this.#cq.fill(0);
    this.#sqDoorbell = submissionDoorbell(options.qid, options.doorbellStride);
    this.#cqDoorbell = completionDoorbell(options.qid, options.doorbellStride);
    this.#pageSize = options.pageSize;
    this.#lists = memory.prpLists;
    this.#state = new Uint8Array(this.depth);
    this.#callbacks = new Array<CompletionCallback | undefined>(this.depth).fill(undefined);
    this.#names = new Array<string>(this.depth).fill("");
    this.#deadlines = new Float64Array(this.depth);
    this.#free = new Uint16Array(this.depth);
    for (let i = 0; i < this.depth; i++) this.#free[i] = this.depth - 1 - i;
    this.#freeCount = this.depth;
  }

  /** Commands submitted and not yet completed (timed-out ones excluded). */
  get outstanding(): number {
    return this.#busy;
  }

  /** Whether submit() would accept a command now. */
  get hasFreeSlot(): boolean {
    return this.#freeCount > 0 && !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Places `command` in the submission queue and rings the tail doorbell; `callback` runs from
   * poll() when it completes. Returns false (and submits nothing) when every slot is in use.
   * PRPs come from the command's data range; the caller has checked its alignment and length.
   */
  submit(command: NvmeCommand, callback: CompletionCallback): boolean {
    if (this.#closed || this.#freeCount === 0) return false;
    const cid = this.#free[--this.#freeCount]!;
    let prp1 = 0n;
    let prp2 = 0n;
    if (command.prps) {
      prp1 = command.prps.prp1;
      prp2 = command.prps.prp2;
    } else if (command.data) {
      const prps = buildPrps(command.data.iova, command.data.length, this.#pageSize, this.#lists[cid]);
      prp1 = prps.prp1;
      prp2 = prps.prp2;
    }
    this.#state[cid] = BUSY;
    this.#callbacks[cid] = callback;
    this.#names[cid] = command.name;
    this.#deadlines[cid] = performance.now() + this.timeoutMs;
    this.#busy++;
    writeSubmissionEntry(this.#sq, this.#sqTail * (SQE_BYTES / 4), command, cid, prp1, prp2);
    this.#sqTail = this.#sqTail + 1 === this.entries ? 0 : this.#sqTail + 1;
    this.#bar.write32(this.#sqDoorbell, this.#sqTail);
    if (this.#timer === undefined) this.#armTimer(this.timeoutMs);
    return true;
  }

  /** submit(), or queued in order until a slot frees up. */
  enqueue(command: NvmeCommand, callback: CompletionCallback): void {
    if (this.#closed) {
      callback(STATUS_ABORTED, 0);
      return;
    }
    if (this.#waiting.length > 0 || !this.submit(command, callback)) this.#waiting.push({ command, callback });
  }

  /** The name of the command in slot `cid` (for errors). */
  commandName(cid: number): string {
    return this.#names[cid] ?? "";
  }

  /**
   * Consumes every new completion entry, calls its callback, and writes the head doorbell once.
   * Returns how many entries were consumed. Re-entrant calls (a callback polling) return 0.
   */
  poll(): number {
    if (this.#polling || this.#closed) return 0;
    this.#polling = true;
    let consumed = 0;
    try {
      const cq = this.#cq;
      for (;;) {
        const base = this.#cqHead * 4;
        const dw3 = cq[base + 3]!;
        if (((dw3 >>> 16) & 1) !== this.#phase) break;
        const result = cq[base]!;
        consumed++;
        if (++this.#cqHead === this.entries) {
          this.#cqHead = 0;
          this.#phase ^= 1;
        }
        this.#complete(dw3 & 0xffff, dw3 >>> 17, result);
      }
      if (consumed > 0) this.#bar.write32(this.#cqDoorbell, this.#cqHead);
    } finally {
      this.#polling = false;
    }
    if (consumed > 0) this.#drainWaiting();
    return consumed;
  }

  #complete(cid: number, status: number, result: number): void {
    const state = cid < this.depth ? this.#state[cid] : FREE;
    if (state === FREE) {
      this.spuriousCompletions++;
      return;
    }
    const callback = this.#callbacks[cid];
    this.#release(cid);
    if (state === BUSY) {
      this.#busy--;
      invoke(callback!, status, result);
    }
  }

  #release(cid: number): void {
    this.#state[cid] = FREE;
    this.#callbacks[cid] = undefined;
    this.#free[this.#freeCount++] = cid;
  }

  #drainWaiting(): void {
    while (this.#waiting.length > 0 && this.#freeCount > 0) {
      const next = this.#waiting.shift()!;
      this.submit(next.command, next.callback);
    }
  }

  #armTimer(ms: number): void {
    this.#timer = setTimeout(() => this.#checkDeadlines(), Math.max(1, Math.ceil(ms)));
  }

  /** Fails every command past its deadline with STATUS_TIMED_OUT; re-arms for the next deadline. */
  #checkDeadlines(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    // A completion may be waiting unseen (an interrupt lost, a polling loop stopped): look first.
    this.poll();
    const now = performance.now();
    let next = Infinity;
    for (let cid = 0; cid < this.depth; cid++) {
      if (this.#state[cid] !== BUSY) continue;
      const deadline = this.#deadlines[cid]!;
      if (deadline <= now) {
        const callback = this.#callbacks[cid]!;
        this.#state[cid] = ABANDONED;
        this.#callbacks[cid] = undefined;
        this.#busy--;
        invoke(callback, STATUS_TIMED_OUT, 0);
      } else if (deadline < next) {
        next = deadline;
      }
    }
    if (next !== Infinity && this.#timer === undefined) this.#armTimer(next - now);
  }

  /**
   * Stops the queue: every outstanding or waiting command completes with STATUS_ABORTED, the
   * timer stops. The rings' memory belongs to the controller, which frees it after deleting
   * the queue on the device. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let cid = 0; cid < this.depth; cid++) {
      const state = this.#state[cid];
      const callback = this.#callbacks[cid];
      if (state !== FREE) this.#release(cid);
      if (state === BUSY) invoke(callback!, STATUS_ABORTED, 0);
    }
    this.#busy = 0;
    for (const { callback } of this.#waiting.splice(0)) invoke(callback, STATUS_ABORTED, 0);
  }
}

/** A callback that throws must not leave the queue half-updated: its error is rethrown on its own turn. */
function invoke(callback: CompletionCallback, status: number, result: number): void {
  try {
    callback(status, result);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
