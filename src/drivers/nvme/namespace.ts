/**
 * One active namespace of a controller (NVMe Base Specification 2.0, §3.2.1; NVM Command Set
 * Specification 1.0): block I/O in three forms.
 *
 * - Zero-copy: read() into / write() from a DmaBuffer the caller owns, at any dword-aligned
 *   offset in it; transfers above the controller's limit are split into several commands that
 *   run at once.
 * - Copying: readBytes() / writeBytes() move data through a buffer of the driver's.
 * - Polled: submitRead() / submitWrite() place one command on a queue and return at once; the
 *   caller polls the queue (QueuePair.poll()) and gets a callback per completion. No promise
 *   per command: the form benchmarks use.
 */
import type { DmaBuffer } from "../../api/dma-space.js";
import { VfioUsageError } from "../../api/errors.js";
import type { NvmeCommand } from "./command.js";
import type { NvmeController } from "./controller.js";
import { ONCS_DATASET_MANAGEMENT, ONCS_WRITE_ZEROES, type NamespaceIdentity } from "./identify.js";
import {
  MAX_BLOCKS_PER_COMMAND, deallocateCommand, flushCommand, readCommand, writeCommand, writeRanges, writeZeroesCommand,
} from "./nvm-commands.js";
import type { CompletionCallback, QueuePair } from "./queue-pair.js";

export interface IoOptions {
  /** Byte offset in the buffer where the data starts (default 0; a multiple of 4, §4.1.1). */
  readonly offset?: number;
  /** Index of the I/O queue to use (default: round robin). */
  readonly queue?: number;
}

type Direction = "read" | "write";

export class NvmeNamespace {
  readonly nsid: number;
  readonly identity: NamespaceIdentity;
  /** Bytes per logical block (the LBA format in use). */
  readonly blockSize: number;
  /** Namespace size in blocks (NSZE). */
  readonly blockCount: bigint;
  /** Blocks one command moves at most. */
  readonly maxBlocksPerCommand: number;
  readonly #controller: NvmeController;

  constructor(controller: NvmeController, identity: NamespaceIdentity) {
    this.#controller = controller;
    this.nsid = identity.nsid;
    this.identity = identity;
    this.blockSize = identity.lbaFormat.dataSize;
    this.blockCount = identity.size;
    this.maxBlocksPerCommand = Math.min(MAX_BLOCKS_PER_COMMAND, Math.floor(controller.maxTransferBytes / this.blockSize));
  }

  /** Size in bytes. */
  get bytes(): bigint {
    return this.blockCount * BigInt(this.blockSize);
  }

  /** Reads `blocks` blocks from `lba` into `buffer` at `options.offset` (zero-copy). */
  read(lba: bigint | number, blocks: number, buffer: DmaBuffer, options: IoOptions = {}): Promise<void> {
    return this.#transfer("read", BigInt(lba), blocks, buffer, options);
  }

  /** Writes `blocks` blocks at `lba` from `buffer` at `options.offset` (zero-copy). */
  write(lba: bigint | number, blocks: number, buffer: DmaBuffer, options: IoOptions = {}): Promise<void> {
    return this.#transfer("write", BigInt(lba), blocks, buffer, options);
  }

  /** Reads `blocks` blocks from `lba` into a new array (through a driver buffer). */
  async readBytes(lba: bigint | number, blocks: number, options: Omit<IoOptions, "offset"> = {}): Promise<Uint8Array> {
    this.#checkRange(BigInt(lba), blocks);
    const buffer = await this.#controller.allocateBuffer(blocks * this.blockSize);
    try {
      await this.read(lba, blocks, buffer, options);
      return buffer.bytes.slice(0, blocks * this.blockSize);
    } finally {
      await buffer.free();
    }
  }

  /** Writes `data` (a whole number of blocks) at `lba` (through a driver buffer). */
  async writeBytes(lba: bigint | number, data: Uint8Array, options: Omit<IoOptions, "offset"> = {}): Promise<void> {
    if (data.length === 0 || data.length % this.blockSize !== 0) {
      throw new VfioUsageError(`nvme: a write of ${data.length} bytes is not a whole number of ${this.blockSize}-byte blocks`, "EINVAL");
    }
    const blocks = data.length / this.blockSize;
    this.#checkRange(BigInt(lba), blocks);
    const buffer = await this.#controller.allocateBuffer(data.length);
    try {
      buffer.bytes.set(data);
      await this.write(lba, blocks, buffer, options);
    } finally {
      await buffer.free();
    }
  }

  /** Flush (Base §7.1): whatever the controller caches for this namespace reaches the medium. */
  async flush(options: Omit<IoOptions, "offset"> = {}): Promise<void> {
    const queue = this.#controller.queue(options.queue);
    await this.#controller.execute(queue, flushCommand(this.nsid));
  }

  /** Whether Write Zeroes and Dataset Management are available (Identify Controller ONCS). */
  get supportsWriteZeroes(): boolean {
    return (this.#controller.identity.oncs & ONCS_WRITE_ZEROES) !== 0;
  }

  get supportsDeallocate(): boolean {
    return (this.#controller.identity.oncs & ONCS_DATASET_MANAGEMENT) !== 0;
  }

  /** Write Zeroes (NVM §3.3.7) over `blocks` blocks at `lba`, split by the 16-bit NLB field. */
  async writeZeroes(lba: bigint | number, blocks: number, options: Omit<IoOptions, "offset"> = {}): Promise<void> {
    if (!this.supportsWriteZeroes) throw new VfioUsageError(`nvme: ${this.#controller.name} does not support Write Zeroes (ONCS bit 3)`, "ENOTSUP");
    const start = BigInt(lba);
    this.#checkRange(start, blocks);
    const commands: Promise<number>[] = [];
    for (let done = 0; done < blocks; done += MAX_BLOCKS_PER_COMMAND) {
      const n = Math.min(MAX_BLOCKS_PER_COMMAND, blocks - done);
      commands.push(this.#controller.execute(this.#controller.queue(options.queue), writeZeroesCommand(this.nsid, start + BigInt(done), n)));
    }
    await settleAll(commands);
  }

  /** Dataset Management with Deallocate (NVM §3.3.3) for up to 256 ranges. */
  async deallocate(ranges: readonly { readonly lba: bigint | number; readonly blocks: number }[], options: Omit<IoOptions, "offset"> = {}): Promise<void> {
    if (!this.supportsDeallocate) throw new VfioUsageError(`nvme: ${this.#controller.name} does not support Dataset Management (ONCS bit 2)`, "ENOTSUP");
    if (ranges.length < 1 || ranges.length > 256) throw new VfioUsageError(`nvme: Dataset Management takes 1 to 256 ranges, not ${ranges.length}`, "EINVAL");
    const list = ranges.map((r) => ({ lba: BigInt(r.lba), blocks: r.blocks }));
    for (const r of list) this.#checkRange(r.lba, r.blocks);
    const buffer = await this.#controller.allocateBuffer(list.length * 16);
    try {
      writeRanges(buffer.bytes, list);
      await this.#controller.execute(this.#controller.queue(options.queue), deallocateCommand(this.nsid, list.length, buffer.iova));
    } finally {
      await buffer.free();
    }
  }

  /**
   * The polled form: places one Read of `blocks` blocks at `lba` into `buffer` at `offset` on
   * `queue`, and returns false (submitting nothing) when the queue is full. `callback` runs
   * from `queue.poll()` with the raw status (0: success) and Dword 0.
   */
  submitRead(queue: QueuePair, lba: bigint, blocks: number, buffer: DmaBuffer, offset: number, callback: CompletionCallback): boolean {
    return queue.submit(this.#command("read", lba, blocks, buffer, offset), callback);
  }

  submitWrite(queue: QueuePair, lba: bigint, blocks: number, buffer: DmaBuffer, offset: number, callback: CompletionCallback): boolean {
    return queue.submit(this.#command("write", lba, blocks, buffer, offset), callback);
  }

  #command(direction: Direction, lba: bigint, blocks: number, buffer: DmaBuffer, offset: number): NvmeCommand {
    const length = blocks * this.blockSize;
    const iova = buffer.iova + BigInt(offset);
    return direction === "read" ? readCommand(this.nsid, lba, blocks, iova, length) : writeCommand(this.nsid, lba, blocks, iova, length);
  }

  async #transfer(direction: Direction, lba: bigint, blocks: number, buffer: DmaBuffer, options: IoOptions): Promise<void> {
    const offset = options.offset ?? 0;
    this.#checkRange(lba, blocks);
    if (!Number.isInteger(offset) || offset < 0 || offset % 4 !== 0) {
      throw new VfioUsageError(`nvme: buffer offset ${offset} must be a non-negative multiple of 4 (PRP entries are dword aligned, NVMe Base 2.0 §4.1.1)`, "EINVAL");
    }
    if (offset + blocks * this.blockSize > buffer.size) {
      throw new VfioUsageError(`nvme: ${blocks} blocks of ${this.blockSize} bytes at offset ${offset} do not fit the ${buffer.size}-byte buffer`, "ERANGE");
    }
    const commands: Promise<number>[] = [];
    for (let done = 0; done < blocks; done += this.maxBlocksPerCommand) {
      const n = Math.min(this.maxBlocksPerCommand, blocks - done);
      const command = this.#command(direction, lba + BigInt(done), n, buffer, offset + done * this.blockSize);
      commands.push(this.#controller.execute(this.#controller.queue(options.queue), command));
    }
    await settleAll(commands);
  }

  #checkRange(lba: bigint, blocks: number): void {
    if (!Number.isSafeInteger(blocks) || blocks < 1) throw new VfioUsageError(`nvme: block count ${blocks} must be a positive integer`, "EINVAL");
    if (lba < 0n || lba + BigInt(blocks) > this.blockCount) {
      throw new VfioUsageError(`nvme: blocks ${lba}..${lba + BigInt(blocks) - 1n} are outside namespace ${this.nsid} (${this.blockCount} blocks)`, "ERANGE");
    }
  }
}

/** Waits for every command (none is left running unobserved), then rethrows the first failure. */
async function settleAll(commands: readonly Promise<number>[]): Promise<void> {
  const results = await Promise.allSettled(commands);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
