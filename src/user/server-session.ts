/**
 * One client's connection to the server: the negotiated capabilities, the client's DMA
 * windows and interrupt eventfds, and the server→client commands (DMA_READ/DMA_WRITE) in
 * flight. Everything the client handed over is released when the connection ends, and the
 * device is left as it was for the next client (VFIO-USER.md §5).
 *
 * What a client may cost is bounded (limits.ts): time to negotiate, time idle, server→client
 * requests in flight (each with a timeout, all failed on DEVICE_RESET and on disconnect).
 */
import { readlinkSync } from "node:fs";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { DmaFaultError } from "../api/hosting.js";
import { VFIO_USER_F_ERROR, VFIO_USER_F_TYPE_MASK, VFIO_USER_F_TYPE_REPLY } from "../abi/vfio-user/header.js";
import { VfioUserCommand } from "../abi/vfio-user/command.js";
import { F_GETFL, F_SETFL, O_NONBLOCK, loadSocketLibc, type SocketLibc } from "../native/socket.js";
import { MessageDma } from "./dma-messenger.js";
import { DmaTransferError, DmaWindows } from "./dma-windows.js";
import { Deadline, type ServerLimits } from "./limits.js";
import { handleRequest, type RequestContext } from "./handle-request.js";
import { encodeCommand, type Message } from "./protocol/message.js";
import type { Capabilities } from "./protocol/version.js";
import type { DeviceBinding, ServedDevice } from "./served-device.js";
import { ScmTransport } from "./transport/scm-transport.js";
import type { Transport } from "./transport/transport.js";

interface Pending {
  resolve(message: Message): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** A device DMA the server could not complete, for the log. */
export interface DmaFailure {
  readonly access: "read" | "write";
  readonly address: bigint;
  readonly length: number;
  readonly reason: string;
}

export interface SessionEvents {
  /** A device DMA failed (logged by `vfio serve` where a user sees it). */
  readonly onDmaError?: (failure: DmaFailure) => void;
}

const one = new Uint8Array(new BigUint64Array([1n]).buffer);

export class ServerSession implements RequestContext, DeviceBinding {
  readonly device: ServedDevice;
  readonly dma: DmaWindows;
  clientCaps: Capabilities | undefined;
  readonly serverCaps: Capabilities;
  irqType: "none" | "intx" | "msi" | "msix" = "none";
  readonly #transport: Transport;
  #twin: Transport | undefined;
  readonly #socket: SocketLibc;
  readonly #irqs = new Map<number, (number | null)[]>();
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  readonly #done: Promise<Error | undefined>;
  #finish!: (error: Error | undefined) => void;
  readonly #limits: ServerLimits;
  readonly #events: SessionEvents;
  readonly #quiet: Deadline;
  readonly #messageDma: MessageDma;

  constructor(device: ServedDevice, transport: Transport, serverCaps: Capabilities, limits: ServerLimits, events: SessionEvents = {}) {
    this.device = device;
    this.#transport = transport;
    this.serverCaps = serverCaps;
    this.#limits = limits;
    this.#events = events;
    this.#socket = loadSocketLibc();
    this.dma = new DmaWindows(serverCaps.maxDmaMaps);
    this.#done = new Promise((resolve) => (this.#finish = resolve));
    // Before VERSION: the handshake timeout; after: the idle timeout (0: none).
    this.#quiet = new Deadline(limits.handshakeTimeoutMs, () => this.#timedOut("the client did not complete VERSION in time"));
    this.#messageDma = new MessageDma((command, ...parts) => this.#command(command, ...parts), () => this.clientCaps?.maxDataXferSize ?? 1 << 20);
  }

  #idle: Deadline | undefined;

  #timedOut(why: string): void {
    this.close(new VfioSystemError("VFIO_USER_VERSION", errnoValue("ETIMEDOUT"), "vfio-user", undefined, why));
  }

  /** Server→client requests awaiting a reply. */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  get canPassFds(): boolean {
    return this.#transport.canPassFds;
  }

  /** Resolves when the connection has ended and everything is released (with the error, if any). */
  get done(): Promise<Error | undefined> {
    return this.#done;
  }

  /** Starts serving; the device is bound to this client until the connection ends. */
  start(): void {
    this.#quiet.arm();
    this.device.bind(this);
    this.#transport.start({
      message: (m) => this.#onMessage(m, this.#transport),
      closed: (error) => this.close(error),
    });
  }

  #onMessage(message: Message, from: Transport): void {
    if (this.#closed) {
      for (const fd of message.fds) this.closeFd(fd);
      return;
    }
    if ((message.header.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_REPLY) {
      for (const fd of message.fds) this.closeFd(fd);
      const pending = this.#pending.get(message.header.msgId);
      // A reply nobody waits for (or one on the wrong socket) is dropped, as libvfio-user drops it.
      if (pending && (from === (this.#twin ?? this.#transport))) pending.resolve(message);
      return;
    }
    if (from !== this.#transport) {
      // Commands come only on the main socket.
      for (const fd of message.fds) this.closeFd(fd);
      return;
    }
    // A reset abandons the device's DMA in flight: its requests to the client fail now.
    if (message.header.command === VfioUserCommand.DEVICE_RESET) this.#failPending();
    const reply = handleRequest(this, message);
    if (this.clientCaps !== undefined) {
      this.#quiet.stop();
      this.#idle ??= new Deadline(this.#limits.idleTimeoutMs, () => this.#timedOut("the client was idle too long"));
      this.#idle.rearm();
    }
    if (reply === "close") {
      this.close(new VfioSystemError("VFIO_USER_VERSION", errnoValue("EPROTO"), "vfio-user", undefined, "connection refused by the protocol"));
      return;
    }
    if (!reply) return;
    const release = (): void => {
      for (const fd of reply.closeAfterSend ?? []) this.closeFd(fd);
    };
    try {
      // The server's copies of fds it hands over are closed once the kernel has taken them.
      this.#transport.send(reply.bytes, reply.fds, release);
    } catch {
      // The connection went away: close() releases the rest.
      release();
    }
  }

  startTwinSocket(): number | undefined {
    const pair = this.#socket.socketpair();
    if (typeof pair === "number") return undefined;
    const [ours, theirs] = pair;
    const twin = new ScmTransport(ours, {
      name: "twin socket",
      maxQueuedBytes: this.#limits.maxQueuedReplyBytes,
      drainTimeoutMs: this.#limits.drainTimeoutMs,
      messageTimeoutMs: this.#limits.messageTimeoutMs,
    });
    this.#twin = twin;
    twin.start({
      message: (m) => this.#onMessage(m, twin),
      closed: (error) => {
        if (!this.#closed) this.close(error);
      },
    });
    return theirs;
  }

  setIrqFds(index: number, start: number, fds: readonly (number | null)[]): void {
    const count = this.device.irqInfo(index)?.count ?? 0;
    const vectors = this.#irqs.get(index) ?? new Array<number | null>(count).fill(null);
    fds.forEach((fd, i) => {
      const old = vectors[start + i];
      if (old !== null && old !== undefined) this.closeFd(old);
      vectors[start + i] = fd;
    });
    this.#irqs.set(index, vectors);
  }

  acceptEventfd(fd: number): boolean {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return false;
    }
    // eventfd(2) files show as this anon inode. The fd's flags are left alone: they belong to
    // the client's open file description too, and libvfio-user's sample client reads its
    // eventfd blocking.
    return target === "anon_inode:[eventfd]";
  }

  clearIrqs(index: number): void {
    for (const fd of this.#irqs.get(index) ?? []) if (fd !== null) this.closeFd(fd);
    this.#irqs.delete(index);
  }

  triggerIrqs(index: number, start: number, count: number, which: readonly boolean[] | undefined): void {
    for (let i = 0; i < count; i++) if (!which || which[i]) this.signal(index, start + i);
  }

  signal(index: number, vector: number): boolean {
    const fd = this.#irqs.get(index)?.[vector];
    if (fd === null || fd === undefined) return false;
    // An eventfd write of 1 (eventfd(2)). A write to a blocking eventfd sleeps while the
    // counter is at its maximum, 2^64-2, and the client can put it there, even between a
    // poll(2) and the write: so a counter poll calls full is left alone (it is signalled
    // already), and the write itself is made with O_NONBLOCK set (EAGAIN: full, signalled).
    // O_NONBLOCK belongs to the open file description the client shares (fcntl(2)), and an
    // eventfd cannot be reopened as a description of our own (/proc/self/fd/N gives ENXIO),
    // so a client's blocking fd is made non-blocking for the one write, then restored.
    if (!this.#socket.writableNow(fd)) return true;
    const flags = this.#socket.fcntl(fd, F_GETFL, 0);
    if (flags < 0) return true;
    if (flags & O_NONBLOCK) {
      this.#socket.write(fd, one);
      return true;
    }
    if (this.#socket.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return true;
    this.#socket.write(fd, one);
    this.#socket.fcntl(fd, F_SETFL, flags);
    return true;
  }

  wired(index: number): boolean {
    return (this.#irqs.get(index) ?? []).some((fd) => fd !== null);
  }

  closeFd(fd: number): void {
    this.#socket.close(fd);
  }

  dmaRead(address: bigint, length: number): Promise<Uint8Array> {
    return this.dma.read(address, length, this.#messageDma).catch((error: unknown) => this.#dmaFailed("read", address, length, error));
  }

  dmaWrite(address: bigint, data: Uint8Array): Promise<void> {
    return this.dma.write(address, data, this.#messageDma).catch((error: unknown) => this.#dmaFailed("write", address, data.byteLength, error));
  }

  /** Logs a DMA the server could not complete, then fails it to the device as it failed. */
  #dmaFailed(access: "read" | "write", address: bigint, length: number, error: unknown): never {
    const reason = error instanceof DmaTransferError ? error.detail : error instanceof DmaFaultError ? error.reason : (error as Error).message;
    this.#events.onDmaError?.({ access, address, length, reason });
    if (error instanceof DmaFaultError) throw error;
    throw new DmaTransferError(address, access, reason);
  }

  /** Sends a server→client command (on the twin socket when there is one) and waits for its reply. */
  #command(command: number, ...parts: Uint8Array[]): Promise<Message> {
    const access = command === VfioUserCommand.DMA_READ ? "read" : "write";
    const address = parts[0] && parts[0].byteLength >= 8 ? new DataView(parts[0].buffer, parts[0].byteOffset).getBigUint64(0, true) : 0n;
    const fail = (why: string): DmaTransferError => new DmaTransferError(address, access, why);
    if (this.#closed) return Promise.reject(fail("the client is gone"));
    // Bounded, so a free id always exists (ids are per direction and wrap at 16 bits).
    if (this.#pending.size >= this.#limits.maxPendingRequests) return Promise.reject(fail(`${this.#pending.size} requests to the client are unanswered`));
    const transport = this.#twin ?? this.#transport;
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    return new Promise<Message>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(pending.timer);
        this.#pending.delete(id);
      };
      const pending: Pending = {
        resolve: (m) => {
          done();
          if (m.header.flags & VFIO_USER_F_ERROR) reject(fail(`the client answered ${access === "read" ? "DMA_READ" : "DMA_WRITE"} with errno ${m.header.error}`));
          else resolve(m);
        },
        reject: (error) => {
          done();
          reject(error);
        },
        timer: setTimeout(() => pending.reject(fail(`the client did not answer within ${this.#limits.requestTimeoutMs} ms`)), this.#limits.requestTimeoutMs),
      };
      this.#pending.set(id, pending);
      try {
        transport.send(encodeCommand(id, command, false, ...parts));
      } catch {
        pending.reject(fail("the connection is closed"));
      }
    });
  }

  #failPending(): void {
    for (const p of [...this.#pending.values()]) p.reject(new DmaTransferError(0n, "read", "abandoned by a device reset or disconnect"));
  }

  /** Ends the connection and releases what the client handed over. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.device.bind(undefined);
    this.#transport.close();
    this.#twin?.close();
    this.dma.stopLogging();
    this.dma.removeAll();
    for (const index of [...this.#irqs.keys()]) this.clearIrqs(index);
    this.irqType = "none";
    this.#quiet.stop();
    this.#idle?.stop();
    this.#failPending();
    this.#finish(error);
  }
}
