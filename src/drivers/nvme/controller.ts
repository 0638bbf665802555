/**
 * A userspace NVMe driver for one controller, written only against api/ (VfioDevice, DmaSpace,
 * EventNotifier): it runs on Linux VFIO (QEMU's controller in the test guest), on the emulated
 * machine and over vfio-user.
 *
 * Bring-up follows NVMe Base Specification 2.0 §3.5.1 "Memory-based Controller Initialization":
 * reset (CC.EN = 0, wait CSTS.RDY = 0), admin queue (AQA/ASQ/ACQ), enable (CC, wait CSTS.RDY),
 * Identify Controller (§5.17.2.1), Set Features Number of Queues (§5.27.1.5), Create I/O
 * Completion then Submission Queues (§5.4, §5.5), Identify the active namespaces (§5.17.2.2,
 * NVM Command Set §4.1.5.1). close() reverses it: Delete I/O SQs then CQs (§3.5.3), normal
 * shutdown (§3.6.1), interrupts off, bus mastering off, memory freed.
 */
import type { DmaBuffer, DmaSpace } from "../../api/dma-space.js";
import type { VfioDevice } from "../../api/device.js";
import { PCI_CLASS_REVISION } from "../../api/constants.js";
import { VfioUsageError } from "../../api/errors.js";
import { enableMemoryAndBusMaster, readConfig, setBusMaster } from "../../api/pci-config.js";
import * as admin from "./admin-commands.js";
import { CNS, type NvmeCommand } from "./command.js";
import { CompletionRouting, type NvmeCompletion } from "./completion-routing.js";
import { disableController, enableController, programAdminQueue, readStatus, shutdownController } from "./controller-state.js";
import { decodeControllerIdentity, decodeNamespaceIdentity, decodeNamespaceList, type ControllerIdentity } from "./identify.js";
import { NvmeNamespace } from "./namespace.js";
import { QueuePair, STATUS_ABORTED, STATUS_TIMED_OUT } from "./queue-pair.js";
import { RegisterPort } from "./register-port.js";
import { decodeCapabilities, formatVersion, NVME_REG, type ControllerCapabilities } from "./registers.js";
import { allocateQueueMemory, listEntriesFor } from "./queue-memory.js";
import { NvmeCommandError, NvmeControllerError, decodeStatus } from "./status.js";
import { runUndo, type UndoSteps } from "../undo-steps.js";

/** PCI class 01h subclass 08h programming interface 02h: NVM Express (PCI Code and ID Assignment §1.2). */
const NVME_CLASS = 0x010802;
/** Admin queue entries: enough for bring-up and teardown, which send one command at a time. */
const ADMIN_ENTRIES = 32;
/** The driver's memory page size (CC.MPS = 0): the host's page size. */
const PAGE_SIZE = 4096;
/** The transfer cap where MDTS says "no limit": one PRP list page's worth (prp.ts). */
const DEFAULT_MAX_TRANSFER = 512 * PAGE_SIZE;

export interface NvmeControllerOptions {
  /** How completions are noticed (default "msix"; falls back to "intx", then "poll", where the device offers none). */
  readonly completion?: NvmeCompletion;
  /** I/O queue pairs to create (default 1); fewer if the controller allocates fewer. */
  readonly ioQueues?: number;
  /** Commands in flight per I/O queue (default 64), at most CAP.MQES. */
  readonly queueDepth?: number;
  /** Deadline of every command, in ms (default 30000, as Linux's nvme_io_timeout). */
  readonly timeoutMs?: number;
  /** Highest IOVA + 1 the driver's own DMA buffers may use (default: the DMA space's). */
  readonly dmaLimit?: bigint;
}

export class NvmeController implements AsyncDisposable {
  readonly capabilities: ControllerCapabilities;
  /** VS, e.g. "1.4.0". */
  readonly version: string;
  readonly identity: ControllerIdentity;
  /** Active namespaces, by ascending NSID. */
  readonly namespaces: readonly NvmeNamespace[];
  readonly ioQueues: readonly QueuePair[];
  readonly completion: NvmeCompletion;
  /** The largest transfer of one command, in bytes: MDTS, capped by the PRP list the driver keeps per command. */
  readonly maxTransferBytes: number;
  readonly pageSize = PAGE_SIZE;
  readonly timeoutMs: number;
  readonly #device: VfioDevice;
  readonly #dma: DmaSpace;
  readonly #bar: RegisterPort;
  readonly #admin: QueuePair;
  readonly #routing: CompletionRouting;
  readonly #buffers: DmaBuffer[];
  readonly #scratch: DmaBuffer;
  readonly #dmaLimit: bigint | undefined;
  #nextQueue = 0;
  #closing: Promise<void> | undefined;

  private constructor(parts: {
    device: VfioDevice; dma: DmaSpace; bar: RegisterPort; capabilities: ControllerCapabilities; version: string;
    identity: ControllerIdentity; admin: QueuePair; routing: CompletionRouting; buffers: DmaBuffer[]; scratch: DmaBuffer;
    maxTransferBytes: number; timeoutMs: number; dmaLimit: bigint | undefined;
  }) {
    this.#device = parts.device;
    this.#dma = parts.dma;
    this.#bar = parts.bar;
    this.capabilities = parts.capabilities;
    this.version = parts.version;
    this.identity = parts.identity;
    this.#admin = parts.admin;
    this.#routing = parts.routing;
    this.#buffers = parts.buffers;
    this.#scratch = parts.scratch;
    this.maxTransferBytes = parts.maxTransferBytes;
    this.timeoutMs = parts.timeoutMs;
    this.#dmaLimit = parts.dmaLimit;
    this.completion = parts.routing.mode;
    this.namespaces = [];
    this.ioQueues = [];
  }

  get name(): string {
    return this.#device.name;
  }

  /**
   * Checks the class code, enables memory decoding and bus mastering, maps BAR0, resets and
   * enables the controller, identifies it and its namespaces and creates the I/O queues.
   * Whatever fails, everything done so far is undone before the error goes up.
   */
  static async open(device: VfioDevice, dma: DmaSpace, options: NvmeControllerOptions = {}): Promise<NvmeController> {
    const classCode = (await readConfig(device, PCI_CLASS_REVISION, 4)) >>> 8;
    if (classCode !== NVME_CLASS) {
      throw new VfioUsageError(`${device.name} has class ${classCode.toString(16).padStart(6, "0")}, not an NVMe controller (010802)`, "ENODEV");
    }
    const undo: UndoSteps = [];
    try {
      await enableMemoryAndBusMaster(device);
      undo.push(async () => void (await setBusMaster(device, false)));
      const bar = await RegisterPort.open(device);
      undo.push(() => bar.close());
      const capabilities = decodeCapabilities((await bar.read32(NVME_REG.CAP)) >>> 0, (await bar.read32(NVME_REG.CAP + 4)) >>> 0);
      const version = formatVersion((await bar.read32(NVME_REG.VS)) >>> 0);
      if ((capabilities.commandSets & 1) === 0) throw new VfioUsageError(`${device.name}: the controller does not offer the NVM command set (CAP.CSS)`, "ENOTSUP");
      if (capabilities.minPageSize > PAGE_SIZE || capabilities.maxPageSize < PAGE_SIZE) {
        throw new VfioUsageError(`${device.name}: the controller's page sizes ${capabilities.minPageSize}–${capabilities.maxPageSize} exclude ${PAGE_SIZE}`, "ENOTSUP");
      }
      const stateTimeout = Math.max(capabilities.timeoutMs, 500);
      await disableController(bar, device.name, stateTimeout);

      const ioQueuesWanted = Math.max(1, Math.min(options.ioQueues ?? 1, 0xffff));
      const routing = await CompletionRouting.open(device, options.completion ?? "msix", ioQueuesWanted + 1);
      undo.push(() => routing.close());
      const dmaLimit = options.dmaLimit;
      const allocate = (size: number) => dma.allocate(size, dmaLimit === undefined ? {} : { limit: dmaLimit });
      const buffers: DmaBuffer[] = [];
      undo.push(async () => {
        // Stop the device reaching memory before the memory goes away.
        await setBusMaster(device, false);
        for (const b of buffers.splice(0)) await b.free();
      });
      const scratch = await allocate(PAGE_SIZE);
      buffers.push(scratch);
      const adminMemory = await allocateQueueMemory(allocate, ADMIN_ENTRIES, 0);
      buffers.push(adminMemory.sq, adminMemory.cq);
      const timeoutMs = options.timeoutMs ?? 30_000;
      const admin = new QueuePair(bar, adminMemory, {
        qid: 0, entries: ADMIN_ENTRIES, doorbellStride: capabilities.doorbellStride, pageSize: PAGE_SIZE, timeoutMs, target: `controller ${device.name} admin queue`,
      });
      undo.push(() => admin.close());
      routing.attach(admin);
      programAdminQueue(bar, ADMIN_ENTRIES, adminMemory.sq.iova, adminMemory.cq.iova);
      await enableController(bar, device.name, PAGE_SIZE, stateTimeout);

      // A controller left enabled (a crashed driver, the failed steps below) is reset by the next open.
      const controller = new NvmeController({
        device, dma, bar, capabilities, version, identity: undefined as unknown as ControllerIdentity, admin, routing, buffers, scratch,
        maxTransferBytes: 0, timeoutMs, dmaLimit,
      });
      undo.push(() => controller.#shutdownQuietly());
      await controller.#bringUp(ioQueuesWanted, options.queueDepth ?? 64, allocate);
      return controller;
    } catch (error) {
      await runUndo(undo);
      throw error;
    }
  }

  async #bringUp(ioQueuesWanted: number, depthWanted: number, allocate: (size: number) => Promise<DmaBuffer>): Promise<void> {
    const self = this as { -readonly [K in keyof NvmeController]: NvmeController[K] };
    await this.adminCommand(admin.identify(CNS.CONTROLLER, 0, this.#scratch.iova));
    const identity = decodeControllerIdentity(this.#scratch.bytes);
    self.identity = identity;
    if (identity.sqes.required > 6 || identity.cqes.required > 4) {
      throw new VfioUsageError(`${this.name}: the controller requires SQEs of 2^${identity.sqes.required} and CQEs of 2^${identity.cqes.required} bytes`, "ENOTSUP");
    }
    const mdtsBytes = identity.mdts === 0 ? Infinity : 2 ** identity.mdts * this.capabilities.minPageSize;
    self.maxTransferBytes = Math.min(mdtsBytes, DEFAULT_MAX_TRANSFER);

    const granted = admin.decodeNumberOfQueues(await this.adminCommand(admin.setNumberOfQueues(ioQueuesWanted, ioQueuesWanted)));
    const count = Math.min(ioQueuesWanted, granted.submission, granted.completion);
    const entries = Math.max(2, Math.min(depthWanted + 1, this.capabilities.maxQueueEntries, 0x10000));
    const listEntries = listEntriesFor(this.maxTransferBytes, PAGE_SIZE);
    const queues: QueuePair[] = [];
    self.ioQueues = queues;
    for (let qid = 1; qid <= count; qid++) {
      const memory = await allocateQueueMemory(allocate, entries, listEntries);
      this.#buffers.push(memory.sq, memory.cq, ...(memory.listBuffer ? [memory.listBuffer] : []));
      const vector = this.#routing.vectorFor(qid);
      await this.adminCommand(admin.createIoCompletionQueue(qid, entries, memory.cq.iova, vector, this.#routing.interruptsEnabled));
      const queue = new QueuePair(this.#bar, memory, {
        qid, entries, doorbellStride: this.capabilities.doorbellStride, pageSize: PAGE_SIZE, timeoutMs: this.timeoutMs, target: `controller ${this.name} queue ${qid}`,
      });
      queues.push(queue);
      this.#routing.attach(queue);
      await this.adminCommand(admin.createIoSubmissionQueue(qid, entries, memory.sq.iova, qid));
    }

    await this.adminCommand(admin.identify(CNS.ACTIVE_NAMESPACE_LIST, 0, this.#scratch.iova));
    const nsids = decodeNamespaceList(this.#scratch.bytes);
    const namespaces: NvmeNamespace[] = [];
    for (const nsid of nsids) {
      await this.adminCommand(admin.identify(CNS.NAMESPACE, nsid, this.#scratch.iova));
      const ns = decodeNamespaceIdentity(nsid, this.#scratch.bytes);
      if (ns && ns.lbaFormat.dataSize >= 512 && ns.lbaFormat.dataSize <= this.maxTransferBytes) namespaces.push(new NvmeNamespace(this, ns));
    }
    self.namespaces = namespaces;
  }

  /** Namespace `nsid`, or a usage error naming the active ones. */
  namespace(nsid = this.namespaces[0]?.nsid ?? 1): NvmeNamespace {
    const ns = this.namespaces.find((n) => n.nsid === nsid);
    if (!ns) throw new VfioUsageError(`${this.name} has no active namespace ${nsid} (active: ${this.namespaces.map((n) => n.nsid).join(", ") || "none"})`, "ENOENT");
    return ns;
  }

  /** The I/O queue for the next command: `index` if given, else round robin. */
  queue(index?: number): QueuePair {
    this.#ensureOpen();
    if (index !== undefined) {
      const queue = this.ioQueues[index];
      if (!queue) throw new VfioUsageError(`queue index ${index} is not one of the ${this.ioQueues.length} I/O queues`, "EINVAL");
      return queue;
    }
    const queue = this.ioQueues[this.#nextQueue]!;
    this.#nextQueue = (this.#nextQueue + 1) % this.ioQueues.length;
    return queue;
  }

  /** Sends an admin command; resolves with Dword 0 of its completion. */
  adminCommand(command: NvmeCommand): Promise<number> {
    return this.execute(this.#admin, command);
  }

  /**
   * Sends `command` on `queue` and resolves with Dword 0 of its completion; rejects with
   * NvmeCommandError for a failure status, NvmeControllerError when the deadline passes (or
   * the controller is fatal), and ECLOSED when the controller closes first. On a full queue the
   * command waits its turn.
   */
  execute(queue: QueuePair, command: NvmeCommand): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      queue.enqueue(command, (status, result) => {
        if (status === 0) resolve(result);
        else this.commandError(queue, command.name, status).then(reject, reject);
      });
      this.#routing.kick();
    });
  }

  /** The error for a completion callback's status (see CompletionCallback); a timeout looks at CSTS first. */
  async commandError(queue: QueuePair, command: string, status: number): Promise<Error> {
    if (status === STATUS_ABORTED) return new VfioUsageError(`nvme: ${command} on ${queue.target} was abandoned: the controller closed`, "ECLOSED");
    if (status === STATUS_TIMED_OUT) {
      try {
        await readStatus(this.#bar, this.name);
      } catch (error) {
        return error as Error;
      }
      return new NvmeControllerError(`${command} on ${queue.target} did not complete within ${queue.timeoutMs} ms`, "ETIMEDOUT", false);
    }
    return new NvmeCommandError(command, decodeStatus(status), queue.target);
  }

  /** Call after submitting on a queue directly (the polled form): starts polling where there are no interrupts. */
  kick(): void {
    this.#routing.kick();
  }

  /** Allocates a DMA buffer within the driver's DMA limit. */
  allocateBuffer(size: number): Promise<DmaBuffer> {
    this.#ensureOpen();
    return this.#dma.allocate(size, this.#dmaLimit === undefined ? {} : { limit: this.#dmaLimit });
  }

  /** Reads CSTS: rejects with NvmeControllerError where CFS is set or the controller reads all ones. */
  checkStatus(): Promise<number> {
    return readStatus(this.#bar, this.name);
  }

  #ensureOpen(): void {
    if (this.#closing) throw new VfioUsageError(`nvme controller ${this.name} is closed`, "ECLOSED");
  }

  async #shutdownQuietly(): Promise<void> {
    for (const queue of this.ioQueues) queue.close();
    this.#admin.close();
    try {
      await shutdownController(this.#bar, this.name, Math.max(this.capabilities.timeoutMs, 500));
    } catch {
      // A controller that cannot shut down is reset by the next open.
    }
  }

  /**
   * Deletes the I/O queues, shuts the controller down (CC.SHN), disables interrupts, clears
   * bus mastering, frees the driver's DMA memory and unmaps BAR0. The device stays open:
   * whoever opened it closes it. Outstanding commands reject with ECLOSED. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown> | unknown): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    let healthy = true;
    try {
      await this.checkStatus();
    } catch (error) {
      healthy = false;
      errors.push(error);
    }
    for (const queue of this.ioQueues) queue.close();
    if (healthy) {
      // §3.5.3: delete every I/O submission queue before its completion queue.
      for (const queue of this.ioQueues) await attempt(() => this.adminCommand(admin.deleteIoSubmissionQueue(queue.qid)));
      for (const queue of this.ioQueues) await attempt(() => this.adminCommand(admin.deleteIoCompletionQueue(queue.qid)));
      this.#admin.close();
      await attempt(() => shutdownController(this.#bar, this.name, Math.max(this.capabilities.timeoutMs, 500)));
    } else {
      this.#admin.close();
      await attempt(() => disableController(this.#bar, this.name, Math.max(this.capabilities.timeoutMs, 500)));
    }
    for (const queue of [this.#admin, ...this.ioQueues]) this.#routing.detach(queue);
    await attempt(() => this.#routing.close());
    // Stop the device reaching memory before the memory goes away.
    await attempt(async () => void (await setBusMaster(this.#device, false)));
    await attempt(() => this.#bar.settle());
    for (const buffer of this.#buffers.splice(0)) await attempt(() => buffer.free());
    await attempt(() => this.#bar.close());
    if (errors.length > 0) throw errors[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
