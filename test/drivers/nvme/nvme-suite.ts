/**
 * The NVMe driver's behaviour as one suite that runs unchanged on every backend with an NVMe
 * controller: QEMU's controller through Linux VFIO in the test guest (the reference), the
 * emulated machine and vfio-user. Each backend says what its controller was configured with
 * (QEMU's command line, the model's options); backend-specific observations (the IOMMU's fault
 * log) come through hooks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { VfioDevice } from "../../../src/api/device.js";
import type { DmaBuffer, DmaSpace } from "../../../src/api/dma-space.js";
import {
  NvmeCommandError, NvmeController, SC, readCommand, writeCommand, type NvmeCompletion, type NvmeNamespace,
} from "../../../src/drivers/nvme/index.js";
import { openBar } from "../../../src/drivers/bar-access.js";
import { CSTS_SHST_COMPLETE, CSTS_SHST_MASK, NVME_REG } from "../../../src/drivers/nvme/registers.js";

export interface NvmeTarget {
  readonly device: VfioDevice;
  readonly dma: DmaSpace;
  /** Whether the backend logged an IOMMU fault of `access` at `iova` since open (the kernel: DMAR lines in dmesg). */
  fault?(access: "read" | "write", iova: bigint): Promise<boolean>;
  close(): Promise<void>;
}

/** What the controller under test was configured with. */
export interface NvmeExpectation {
  readonly serial: string;
  readonly model: string;
  /** Largest transfer, bytes: 2^MDTS × 4 KiB. */
  readonly maxTransferBytes: number;
  readonly namespaces: readonly { readonly nsid: number; readonly blocks: bigint; readonly blockSize: number }[];
}

export interface NvmeSuiteOptions {
  readonly skip?: string | false;
  /** Completion modes to run the suite in (default all three). */
  readonly completions?: readonly NvmeCompletion[];
  readonly timeoutMs?: number;
}

/** An IOVA no DMA space of this project hands out to these tests: 64 GiB, inside a 39-bit IOMMU. */
export const UNMAPPED_IOVA = 0x10_0000_0000n;

/** A deterministic pattern (xorshift32), different for each seed. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function nvmeDriverSuite(backend: string, expect: NvmeExpectation, open: () => Promise<NvmeTarget>, options: NvmeSuiteOptions = {}): void {
  const skip = options.skip ?? false;
  const timeoutMs = options.timeoutMs ?? 10_000;
  for (const completion of options.completions ?? (["msix", "intx", "poll"] as const)) {
    describe(`nvme driver on ${backend} (${completion})`, { skip }, () => {
      const start = async (t: { after(fn: () => Promise<void>): void }, ioQueues = 2, queueDepth = 64) => {
        const target = await open();
        let controller: NvmeController | undefined;
        t.after(async () => {
          await controller?.close();
          await target.close();
        });
        controller = await NvmeController.open(target.device, target.dma, { completion, ioQueues, queueDepth, timeoutMs });
        return { controller, target };
      };

      test("open identifies the controller and every active namespace as configured", async (t) => {
        const { controller } = await start(t);
        assert.equal(controller.completion, completion);
        assert.equal(controller.identity.serial, expect.serial);
        assert.equal(controller.identity.model, expect.model);
        assert.equal(controller.maxTransferBytes, expect.maxTransferBytes);
        assert.deepEqual(
          controller.namespaces.map((ns) => ({ nsid: ns.nsid, blocks: ns.blockCount, blockSize: ns.blockSize })),
          expect.namespaces,
        );
        assert.equal(controller.ioQueues.length, 2);
        assert.ok(controller.ioQueues.every((q) => q.depth === 64));
      });

      test("write then read back random patterns from one block to MDTS, at page starts and mid-page", async (t) => {
        const { controller } = await start(t);
        for (const ns of controller.namespaces) {
          const buffer = await controller.allocateBuffer(expect.maxTransferBytes + 4096);
          t.after(() => buffer.free());
          const b = ns.blockSize;
          // One block, one page, two pages, three pages (a PRP list), the largest transfer.
          const sizes = [...new Set([b, 4096, 8192, 3 * 4096, expect.maxTransferBytes].filter((s) => s >= b && s <= expect.maxTransferBytes && s % b === 0))];
          let seed = ns.nsid * 1000;
          for (const size of sizes) {
            // Page-aligned, then starting inside a page (two pages and a list where a page-aligned one needs fewer).
            for (const offset of [0, 512, 4092]) {
              if (offset + size > buffer.size) continue;
              const blocks = size / b;
              const lba = BigInt(++seed % 8) * 8n;
              const data = pattern(size, seed);
              buffer.bytes.set(data, offset);
              await ns.write(lba, blocks, buffer, { offset });
              buffer.bytes.fill(0, offset, offset + size);
              await ns.read(lba, blocks, buffer, { offset });
              assert.ok(equalBytes(buffer.bytes.subarray(offset, offset + size), data), `namespace ${ns.nsid}: ${size} bytes at buffer offset ${offset} did not read back`);
            }
          }
        }
      });

      test("a transfer larger than MDTS is split; the copying form reads back what it wrote", async (t) => {
        const { controller } = await start(t);
        const ns = controller.namespace();
        const blocks = expect.maxTransferBytes / ns.blockSize + 1;
        const data = pattern(blocks * ns.blockSize, 7);
        await ns.writeBytes(0, data);
        assert.ok(equalBytes(await ns.readBytes(0, blocks), data));
        await assert.rejects(ns.readBytes(ns.blockCount, 1), { code: "ERANGE" });
      });

      test("128 commands in flight over two queues complete, each with its own data", async (t) => {
        const { controller } = await start(t);
        const ns = controller.namespace();
        const count = 128;
        const buffer = await controller.allocateBuffer(count * ns.blockSize);
        t.after(() => buffer.free());
        const expected = pattern(count * ns.blockSize, 42);
        buffer.bytes.set(expected);
        const done = new Promise<number[]>((resolve) => {
          const statuses: number[] = [];
          for (let i = 0; i < count; i++) {
            const queue = controller.ioQueues[i % 2]!;
            const accepted = ns.submitWrite(queue, BigInt(i), 1, buffer, i * ns.blockSize, (status) => {
              statuses.push(status);
              if (statuses.length === count) resolve(statuses);
            });
            assert.ok(accepted, `queue ${queue.qid} refused command ${i}`);
          }
          // Nothing has been polled yet: every command is in flight at once.
          assert.equal(controller.ioQueues[0]!.outstanding + controller.ioQueues[1]!.outstanding, count);
          controller.kick();
        });
        assert.deepEqual(await done, new Array(count).fill(0));
        buffer.bytes.fill(0);
        await Promise.all(Array.from({ length: count }, (_, i) => ns.read(i, 1, buffer, { offset: i * ns.blockSize, queue: i % 2 })));
        assert.ok(equalBytes(buffer.bytes.subarray(0, count * ns.blockSize), expected));
      });

      test("a PRP list at an IOVA never mapped fails with Data Transfer Error; no memory or block changes", async (t) => {
        const { controller, target } = await start(t);
        const ns = controller.namespace();
        const buffer = await controller.allocateBuffer(4 * 4096);
        t.after(() => buffer.free());
        const blocks = (3 * 4096) / ns.blockSize;
        const before = pattern(3 * 4096, 99);
        await ns.writeBytes(0, before);
        buffer.bytes.fill(0xee);
        const listIova = UNMAPPED_IOVA + 0x10000n;
        const read = { ...readCommand(ns.nsid, 0n, blocks, 0n, 0), prps: { prp1: buffer.iova, prp2: listIova } };
        await assert.rejects(controller.execute(controller.queue(0), read), (e: unknown) => isStatus(e, SC.DATA_TRANSFER_ERROR));
        assert.ok(buffer.bytes.every((v) => v === 0xee), "memory changed by a failed read");
        const write = { ...writeCommand(ns.nsid, 0n, blocks, 0n, 0), prps: { prp1: buffer.iova, prp2: listIova + 0x1000n } };
        await assert.rejects(controller.execute(controller.queue(1), write), (e: unknown) => isStatus(e, SC.DATA_TRANSFER_ERROR));
        assert.ok(equalBytes(await ns.readBytes(0, blocks), before), "blocks changed by a failed write");
        if (target.fault) assert.ok(await target.fault("read", listIova), `no IOMMU fault logged for the PRP list read at 0x${listIova.toString(16)}`);
      });

      test("data pointed at an IOVA never mapped reaches no memory (the IOMMU blocks it)", async (t) => {
        const { controller, target } = await start(t);
        const ns = controller.namespace();
        const buffer = await controller.allocateBuffer(4096);
        t.after(() => buffer.free());
        buffer.bytes.fill(0x5a);
        const iova = UNMAPPED_IOVA + 0x20000n;
        // QEMU 7.2's controller completes such a command with success: its DMA helpers drop
        // the faulting access (hw/nvme/ctrl.c maps data PRPs without reading them). The model follows.
        await controller.execute(controller.queue(0), { ...readCommand(ns.nsid, 0n, 4096 / ns.blockSize, 0n, 0), prps: { prp1: iova, prp2: 0n } });
        assert.ok(buffer.bytes.every((v) => v === 0x5a));
        if (target.fault) assert.ok(await target.fault("write", iova), `no IOMMU fault logged for the data write at 0x${iova.toString(16)}`);
      });

      test("bad commands get the controller's status codes", async (t) => {
        const { controller } = await start(t);
        const ns = controller.namespace();
        const buffer = await controller.allocateBuffer(3 * 4096);
        t.after(() => buffer.free());
        const q = controller.queue(0);
        const two = 8192 / ns.blockSize;
        await assert.rejects(controller.execute(q, { opcode: 0x7f, name: "opcode 7fh", nsid: ns.nsid }), (e: unknown) => isStatus(e, SC.INVALID_OPCODE));
        await assert.rejects(controller.execute(q, readCommand(ns.nsid, ns.blockCount, 1, buffer.iova, ns.blockSize)), (e: unknown) => isStatus(e, SC.LBA_OUT_OF_RANGE));
        await assert.rejects(controller.execute(q, readCommand(0xfffffffe, 0n, 1, buffer.iova, ns.blockSize)), (e: unknown) => isStatus(e, SC.INVALID_NAMESPACE));
        // PRP2 must be page aligned when it is the second page (§4.1.1).
        const misaligned = { ...readCommand(ns.nsid, 0n, two, 0n, 0), prps: { prp1: buffer.iova, prp2: buffer.iova + 0x1010n } };
        await assert.rejects(controller.execute(q, misaligned), (e: unknown) => isStatus(e, SC.INVALID_PRP_OFFSET));
        // The queue still works afterwards.
        await ns.read(0, 1, buffer);
      });

      test("flush, write zeroes and deallocate where ONCS reports them", async (t) => {
        const { controller } = await start(t);
        const ns = controller.namespace();
        await ns.writeBytes(16, pattern(4 * ns.blockSize, 5));
        await ns.flush();
        if (ns.supportsWriteZeroes) {
          await ns.writeZeroes(16, 4);
          assert.ok((await ns.readBytes(16, 4)).every((v) => v === 0));
        } else {
          await assert.rejects(ns.writeZeroes(16, 4), { code: "ENOTSUP" });
        }
        if (ns.supportsDeallocate) await ns.deallocate([{ lba: 16, blocks: 4 }, { lba: 32, blocks: 1 }]);
        else await assert.rejects(ns.deallocate([{ lba: 16, blocks: 4 }]), { code: "ENOTSUP" });
      });

      test("the data survives close and reopen; close leaves the controller shut down", async (t) => {
        const target = await open();
        t.after(() => target.close());
        const data = pattern(8192, 1234);
        let first: NvmeController | undefined = await NvmeController.open(target.device, target.dma, { completion, timeoutMs });
        try {
          await first.namespace().writeBytes(64, data);
        } finally {
          await first.close();
        }
        await assert.rejects(first.namespace().readBytes(64, 1), { code: "ECLOSED" });
        first = undefined;
        const bar = await openBar(target.device, 0);
        const csts = bar.mapped ? bar.read32(NVME_REG.CSTS) : await bar.read32(NVME_REG.CSTS);
        bar.close();
        assert.equal(csts & CSTS_SHST_MASK, CSTS_SHST_COMPLETE, "CSTS.SHST after close");
        const second = await NvmeController.open(target.device, target.dma, { completion, timeoutMs });
        try {
          const ns: NvmeNamespace = second.namespace();
          assert.ok(equalBytes(await ns.readBytes(64, 8192 / ns.blockSize), data));
        } finally {
          await second.close();
        }
      });

      test("a zero-copy buffer offset that is not dword aligned or overruns the buffer is refused before it reaches the controller", async (t) => {
        const { controller } = await start(t);
        const ns = controller.namespace();
        const buffer: DmaBuffer = await controller.allocateBuffer(4096);
        t.after(() => buffer.free());
        await assert.rejects(ns.read(0, 1, buffer, { offset: 2 }), { code: "EINVAL" });
        await assert.rejects(ns.read(0, 4096 / ns.blockSize + 1, buffer), { code: "ERANGE" });
        await assert.rejects(ns.read(0, 1, buffer, { queue: 5 }), { code: "EINVAL" });
      });
    });
  }
}

function isStatus(error: unknown, code: number): boolean {
  assert.ok(error instanceof NvmeCommandError, `expected an NvmeCommandError, got ${String(error)}`);
  assert.equal(error.code, "EIO");
  assert.equal(error.status.type, 0);
  assert.equal(error.status.code, code, `status 0x${error.status.code.toString(16)}, expected 0x${code.toString(16)}`);
  return true;
}
