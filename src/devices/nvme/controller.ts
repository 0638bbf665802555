/**
 * An NVMe controller model (NVMe Base Specification 2.0, memory-based transport), modelled on
 * QEMU 7.2's (hw/nvme/ctrl.c): 1b36:0010, class 010802, BAR0 16 KiB with the MSI-X table at
 * 2000h and the PBA at 3000h (65 vectors), INTA for INTx.
 *
 * - Registers (§3.1.3) and the CC/CSTS state machine: CC.EN 0 → 1 builds the admin queue pair
 *   from AQA/ASQ/ACQ and sets CSTS.RDY (or CSTS.CFS for an unusable configuration, as QEMU's
 *   nvme_start_ctrl); 1 → 0 resets (every queue dropped, CSTS cleared); CC.SHN sets
 *   CSTS.SHST = 10b at once (nothing is cached).
 * - Doorbells (§3.1.3): a submission tail write runs that queue: entries are fetched by DMA,
 *   executed in order, and posted to its completion queue with the phase tag; a completion
 *   head write frees entries and lowers INTx once the queues on that vector are empty.
 * - An SQE fetch or CQE post that faults is Controller Fatal Status (the controller cannot go
 *   on; QEMU ignores the failed access instead, which no driver can notice).
 * - Interrupts: host.raiseIrq(vector) gives MSI-X where enabled, else INTx (masked per vector
 *   by INTMS/INTMC, §3.1.3.3).
 */
import type { AccessSize, BarSpec, DeviceHost, DeviceModel, MsixSpec, PciIdentity } from "../../api/hosting.js";
import { DmaFaultError } from "../../api/hosting.js";
import { executeAdmin } from "./admin-commands.js";
import type { BlockStore } from "./block-store.js";
import type { ControllerContext, ModelNamespace } from "./context.js";
import type { ControllerConfig } from "./identify-data.js";
import { executeIo } from "./io-commands.js";
import { walkPrps } from "./prp-walk.js";
import { CompletionQueue, SubmissionQueue } from "./queues.js";
import { CC_EN, CC_SHN_SHIFT, CSTS_CFS, CSTS_RDY, CSTS_SHST_COMPLETE, REG, SC, decodeSqe, status, type Outcome } from "./spec.js";

export interface NvmeNamespaceOptions {
  readonly store: BlockStore;
  /** Bytes per block (default 512): 512 to 4096, a power of two. */
  readonly blockSize?: number;
}

export interface NvmeDeviceOptions {
  readonly serial?: string;
  readonly model?: string;
  readonly firmware?: string;
  /** Maximum Data Transfer Size, log2 of 4 KiB units (default 7, as QEMU). */
  readonly mdts?: number;
  /** I/O queue pairs offered (default 64, QEMU's max_ioqpairs). */
  readonly maxIoQueues?: number;
  /** Namespaces, NSIDs 1, 2, … in order. */
  readonly namespaces: readonly NvmeNamespaceOptions[];
}

const PAGE = 4096;
const MQES = 0x7ff;
const VECTORS = 65;
/** CAP (§3.1.3.1): MQES 7FFh, CQR, TO 15 (7.5 s); CSS NVM (bit 37), MPSMIN 0, MPSMAX 4, as QEMU. */
const CAP_LOW = MQES | (1 << 16) | (0xf << 24);
const CAP_HIGH = (1 << 5) | (4 << 20);

export class NvmeDevice implements DeviceModel {
  readonly name = "nvme";
  /** QEMU's identity (nvme_init_pci: PCI_VENDOR_ID_REDHAT, PCI_DEVICE_ID_REDHAT_NVME, revision 2). */
  readonly identity: PciIdentity = { vendorId: 0x1b36, deviceId: 0x0010, subsystemVendorId: 0x1af4, subsystemId: 0x1100, classCode: 0x010802, revision: 2 };
  readonly bars: readonly (BarSpec | undefined)[] = [{ size: 0x4000n, kind: "memory64", prefetchable: false }];
  readonly msiVectors = 0;
  readonly msix: MsixSpec = { vectors: VECTORS, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 };
  readonly intxPin = 1;
  readonly #ctx: ControllerContext & { sqs: (SubmissionQueue | undefined)[]; cqs: (CompletionQueue | undefined)[] };
  #host: DeviceHost | undefined;
  #cc = 0;
  #csts = 0;
  #aqa = 0;
  #asq = 0n;
  #acq = 0n;
  #intms = 0;
  /** Bumped by every reset: work started before it is dropped. */
  #generation = 0;
  /** Commands completed, by outcome: for tests and `vfio serve`'s log. */
  readonly stats = { commands: 0, errors: 0 };

  constructor(options: NvmeDeviceOptions) {
    const namespaces = new Map<number, ModelNamespace>();
    options.namespaces.forEach((ns, i) => {
      const blockSize = ns.blockSize ?? 512;
      if (!Number.isInteger(Math.log2(blockSize)) || blockSize < 512 || blockSize > 4096) throw new RangeError(`block size ${blockSize} is not a power of two from 512 to 4096`);
      namespaces.set(i + 1, { config: { nsid: i + 1, blocks: ns.store.size / BigInt(blockSize), blockSize }, store: ns.store });
    });
    const config: ControllerConfig = {
      serial: options.serial ?? "vfio-ts",
      model: options.model ?? "QEMU NVMe Ctrl",
      firmware: options.firmware ?? "vfio-ts",
      mdts: options.mdts ?? 7,
      namespaceCount: 256,
    };
    const self = this;
    this.#ctx = {
      config,
      namespaces,
      sqs: [],
      cqs: [],
      maxIoQueues: options.maxIoQueues ?? 64,
      maxQueueEntries: MQES + 1,
      vectors: VECTORS,
      pageSize: PAGE,
      maxTransfer: config.mdts === 0 ? Infinity : 2 ** config.mdts * PAGE,
      readData: (prp1, prp2, length) => self.#readData(prp1, prp2, length),
      writeData: (prp1, prp2, data) => self.#writeData(prp1, prp2, data),
      deleteSubmissionQueue: (qid) => {
        self.#ctx.sqs[qid] = undefined;
      },
    };
  }

  attach(host: DeviceHost): void {
    this.#host = host;
  }

  barRead(_bar: number, offset: bigint, size: AccessSize): bigint {
    const o = Number(offset);
    const dword = (at: number): number => {
      switch (at) {
        case REG.CAP: return CAP_LOW;
        case REG.CAP + 4: return CAP_HIGH;
        case REG.VS: return 0x00010400;
        case REG.INTMS:
        case REG.INTMC: return this.#intms;
        case REG.CC: return this.#cc;
        case REG.CSTS: return this.#csts;
        case REG.AQA: return this.#aqa;
        case REG.ASQ: return Number(this.#asq & 0xffffffffn);
        case REG.ASQ + 4: return Number(this.#asq >> 32n);
        case REG.ACQ: return Number(this.#acq & 0xffffffffn);
        case REG.ACQ + 4: return Number(this.#acq >> 32n);
        default: return 0; // reserved and doorbells read as zero (§3.1.3)
      }
    };
    if (size === 8) return BigInt(dword(o >>> 0) >>> 0) | (BigInt(dword(o + 4) >>> 0) << 32n);
    const value = dword(o & ~3) >>> ((o & 3) * 8);
    return BigInt(size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1));
  }

  barWrite(_bar: number, offset: bigint, size: AccessSize, value: bigint): void {
    const o = Number(offset);
    if (size === 8) {
      this.barWrite(0, offset, 4, value & 0xffffffffn);
      this.barWrite(0, offset + 4n, 4, value >> 32n);
      return;
    }
    const v = Number(value & 0xffffffffn) >>> 0;
    if (o >= REG.DOORBELLS) return this.#doorbell(o, v);
    switch (o) {
      case REG.INTMS: this.#intms = (this.#intms | v) >>> 0; return;
      case REG.INTMC: this.#intms = (this.#intms & ~v) >>> 0; return;
      case REG.CC: return this.#writeCc(v);
      case REG.AQA: this.#aqa = v & 0x0fff0fff; return;
      case REG.ASQ: this.#asq = (this.#asq & ~0xffffffffn) | BigInt(v & ~0xfff); return;
      case REG.ASQ + 4: this.#asq = (this.#asq & 0xffffffffn) | (BigInt(v) << 32n); return;
      case REG.ACQ: this.#acq = (this.#acq & ~0xffffffffn) | BigInt(v & ~0xfff); return;
      case REG.ACQ + 4: this.#acq = (this.#acq & 0xffffffffn) | (BigInt(v) << 32n); return;
      default: return; // read-only or reserved
    }
  }

  reset(): void {
    this.#resetQueues();
    this.#cc = 0;
    this.#csts = 0;
    this.#aqa = 0;
    this.#asq = 0n;
    this.#acq = 0n;
    this.#intms = 0;
  }

  /** Closes the namespaces' stores (files). */
  close(): void {
    for (const ns of this.#ctx.namespaces.values()) ns.store.close();
  }

  #writeCc(value: number): void {
    const was = this.#cc;
    this.#cc = value;
    if ((value & CC_EN) !== 0 && (was & CC_EN) === 0) this.#start();
    else if ((value & CC_EN) === 0 && (was & CC_EN) !== 0) {
      this.#resetQueues();
      this.#csts = 0;
    }
    const shn = (value >>> CC_SHN_SHIFT) & 3;
    if (shn !== 0) this.#csts |= CSTS_SHST_COMPLETE;
    else this.#csts &= ~CSTS_SHST_COMPLETE;
  }

  /** §3.5.1 step 6; the checks of QEMU's nvme_start_ctrl (a failure sets CFS, as QEMU's NVME_CSTS_FAILED). */
  #start(): void {
    const mps = (this.#cc >>> 7) & 0xf;
    const sqEntries = (this.#aqa & 0xfff) + 1;
    const cqEntries = ((this.#aqa >>> 16) & 0xfff) + 1;
    const css = (this.#cc >>> 4) & 7;
    if (mps !== 0 || css !== 0 || this.#asq === 0n || this.#acq === 0n || sqEntries < 2 || cqEntries < 2) {
      this.#csts = CSTS_CFS;
      return;
    }
    this.#ctx.sqs[0] = new SubmissionQueue(0, this.#asq, sqEntries, 0);
    this.#ctx.cqs[0] = new CompletionQueue(0, this.#acq, cqEntries, 0, true);
    this.#csts = CSTS_RDY;
  }

  #resetQueues(): void {
    this.#generation++;
    this.#ctx.sqs.length = 0;
    this.#ctx.cqs.length = 0;
    this.#host?.lowerIrq(0);
  }

  get #running(): boolean {
    return (this.#csts & CSTS_RDY) !== 0 && (this.#csts & CSTS_CFS) === 0;
  }

  #doorbell(offset: number, value: number): void {
    if (!this.#running) return;
    const index = (offset - REG.DOORBELLS) >>> 2;
    const qid = index >>> 1;
    if ((index & 1) === 0) {
      const sq = this.#ctx.sqs[qid];
      if (!sq || value >= sq.entries) return; // QEMU: an invalid doorbell write is ignored (and logged)
      sq.tail = value;
      void this.#run(sq);
    } else {
      const cq = this.#ctx.cqs[qid];
      if (!cq || value >= cq.entries) return;
      cq.head = value;
      void this.#drainWaiting(cq);
      this.#updateIntx(cq.vector);
    }
  }

  /** Executes the queue's new entries in order; one loop per queue at a time. */
  async #run(sq: SubmissionQueue): Promise<void> {
    if (sq.busy) return;
    sq.busy = true;
    const generation = this.#generation;
    const live = () => this.#generation === generation && this.#ctx.sqs[sq.qid] === sq && this.#running;
    try {
      while (sq.head !== sq.tail && live()) {
        const entry = await this.#dma(() => this.#host!.dmaRead(sq.base + BigInt(sq.head * 64), 64));
        if (!entry || !live()) return;
        sq.head = (sq.head + 1) % sq.entries;
        const cmd = decodeSqe(entry);
        let outcome: Outcome;
        try {
          outcome = sq.qid === 0 ? await executeAdmin(this.#ctx, cmd) : await executeIo(this.#ctx, cmd);
        } catch {
          outcome = { status: status(SC.INTERNAL_ERROR) };
        }
        if (!live()) return;
        this.stats.commands++;
        if (outcome.status !== 0) this.stats.errors++;
        const cq = this.#ctx.cqs[sq.cqid];
        if (cq) await this.#post(cq, { sqid: sq.qid, sqhd: sq.head, cid: cmd.cid, status: outcome.status, result: outcome.result ?? 0 });
      }
    } finally {
      sq.busy = false;
    }
    // A doorbell that arrived while the last command finished.
    if (sq.head !== sq.tail && live()) void this.#run(sq);
  }

  /** Runs a DMA for the controller's own structures; a fault makes the controller fatal. */
  async #dma<T>(access: () => Promise<T>): Promise<T | undefined> {
    try {
      return await access();
    } catch (error) {
      if (!(error instanceof DmaFaultError)) throw error;
      this.#csts |= CSTS_CFS;
      return undefined;
    }
  }

  /** Posts a completion, or queues it behind those already waiting for room (in order). */
  async #post(cq: CompletionQueue, c: CompletionQueue["waiting"][number]): Promise<void> {
    if (cq.full || cq.waiting.length > 0) {
      cq.waiting.push(c);
      return;
    }
    await this.#write(cq, c);
  }

  async #write(cq: CompletionQueue, c: CompletionQueue["waiting"][number]): Promise<void> {
    const entry = new Uint8Array(16);
    const v = new DataView(entry.buffer);
    v.setUint32(0, c.result >>> 0, true);
    v.setUint32(8, (c.sqhd & 0xffff) | (c.sqid << 16), true);
    v.setUint32(12, ((c.cid & 0xffff) | (cq.phase << 16) | ((c.status & 0x7fff) << 17)) >>> 0, true);
    const slot = cq.tail;
    cq.tail = (cq.tail + 1) % cq.entries;
    if (cq.tail === 0) cq.phase ^= 1;
    const generation = this.#generation;
    if ((await this.#dma(() => this.#host!.dmaWrite(cq.base + BigInt(slot * 16), entry))) === undefined && (this.#csts & CSTS_CFS) !== 0) return;
    if (this.#generation !== generation) return;
    if (cq.interrupts && !(this.#intms & (1 << cq.vector))) this.#host!.raiseIrq(cq.vector);
  }

  async #drainWaiting(cq: CompletionQueue): Promise<void> {
    // Straight to the queue: through #post, the entries still waiting would send each one to
    // the back of the list, a rotation that never ends.
    while (cq.waiting.length > 0 && !cq.full) await this.#write(cq, cq.waiting.shift()!);
  }

  /** INTx is level: asserted while a completion queue on the vector holds unconsumed entries (QEMU nvme_irq_check). */
  #updateIntx(vector: number): void {
    const pending = this.#ctx.cqs.some((cq) => cq !== undefined && cq.vector === vector && cq.interrupts && !cq.empty);
    if (!pending) this.#host?.lowerIrq(vector);
  }

  async #readData(prp1: bigint, prp2: bigint, length: number): Promise<Uint8Array | number> {
    const segments = await walkPrps(this.#host!, prp1, prp2, length, PAGE);
    if (typeof segments === "number") return segments;
    const out = new Uint8Array(length);
    let at = 0;
    for (const s of segments) {
      try {
        out.set(await this.#host!.dmaRead(s.address, s.length), at);
      } catch (error) {
        // QEMU 7.2 completes the command anyway (its DMA helpers drop a faulting access); the
        // IOMMU has recorded the fault. The model follows, leaving zeros in place.
        if (!(error instanceof DmaFaultError)) throw error;
      }
      at += s.length;
    }
    return out;
  }

  async #writeData(prp1: bigint, prp2: bigint, data: Uint8Array): Promise<number> {
    const segments = await walkPrps(this.#host!, prp1, prp2, data.length, PAGE);
    if (typeof segments === "number") return segments;
    let at = 0;
    for (const s of segments) {
      try {
        await this.#host!.dmaWrite(s.address, data.subarray(at, at + s.length));
      } catch (error) {
        if (!(error instanceof DmaFaultError)) throw error; // as in #readData: QEMU's outcome
      }
      at += s.length;
    }
    return 0;
  }
}
