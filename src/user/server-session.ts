/**
 * One client's connection to the server: the negotiated capabilities, the client's DMA
 * windows and interrupt eventfds, and the server→client commands (DMA_READ/DMA_WRITE) in
 * flight. Everything the client handed over is released when the connection ends, and the
 * device is left as it was for the next client (VFIO-USER.md §5).
 */
import { readlinkSync } from "node:fs";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { DmaFaultError } from "../api/hosting.js";
import { VFIO_USER_F_ERROR, VFIO_USER_F_TYPE_MASK, VFIO_USER_F_TYPE_REPLY } from "../abi/vfio-user/header.js";
import { VfioUserCommand } from "../abi/vfio-user/command.js";
import { dmaAccessLayout } from "../abi/vfio-user/messages.js";
import { loadSocketLibc, type SocketLibc } from "../native/socket.js";
import { DmaWindows, type DmaMessenger } from "./dma-windows.js";
import { handleRequest, type RequestContext } from "./handle-request.js";
import { encodeCommand, type Message } from "./protocol/message.js";
import type { Capabilities } from "./protocol/version.js";
import type { DeviceBinding, ServedDevice } from "./served-device.js";
import { ScmTransport } from "./transport/scm-transport.js";
import type { Transport } from "./transport/transport.js";

interface Pending {
  resolve(message: Message): void;
  reject(error: Error): void;
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

  constructor(device: ServedDevice, transport: Transport, serverCaps: Capabilities) {
    this.device = device;
    this.#transport = transport;
    this.serverCaps = serverCaps;
    this.#socket = loadSocketLibc();
    this.dma = new DmaWindows(serverCaps.maxDmaMaps);
    this.#done = new Promise((resolve) => (this.#finish = resolve));
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
      if (pending && (from === (this.#twin ?? this.#transport))) {
        this.#pending.delete(message.header.msgId);
        pending.resolve(message);
      }
      return;
    }
    if (from !== this.#transport) {
      // Commands come only on the main socket.
      for (const fd of message.fds) this.closeFd(fd);
      return;
    }
    const reply = handleRequest(this, message);
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
    const twin = new ScmTransport(ours, { name: "twin socket" });
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
    // An eventfd write of 1 (eventfd(2)). A blocking eventfd's write blocks while the counter
    // is near 2^64-1 (a client can put it there), which would stall the server: write only
    // when poll says it will not block. A counter that full is a signalled one already.
    if (this.#socket.writableNow(fd)) this.#socket.write(fd, one);
    return true;
  }

  wired(index: number): boolean {
    return (this.#irqs.get(index) ?? []).some((fd) => fd !== null);
  }

  closeFd(fd: number): void {
    this.#socket.close(fd);
  }

  dmaRead(address: bigint, length: number): Promise<Uint8Array> {
    return this.dma.read(address, length, this.#messenger());
  }

  dmaWrite(address: bigint, data: Uint8Array): Promise<void> {
    return this.dma.write(address, data, this.#messenger());
  }

  #messenger(): DmaMessenger {
    return {
      read: async (address, length) => {
        const out = new Uint8Array(length);
        // libvfio-user splits a transfer into pieces of at most the client's max_data_xfer_size.
        const chunk = this.clientCaps?.maxDataXferSize ?? 1 << 20;
        for (let at = 0; at < length; at += chunk) {
          const n = Math.min(chunk, length - at);
          const a = address + BigInt(at);
          const reply = await this.#command(VfioUserCommand.DMA_READ, dmaAccessLayout.encode({ address: a, count: BigInt(n) }));
          const head = reply.payload.byteLength >= dmaAccessLayout.size ? dmaAccessLayout.decode(reply.payload) : undefined;
          if (!head || head.address !== a || head.count !== BigInt(n) || reply.payload.byteLength !== dmaAccessLayout.size + n) {
            throw new DmaFaultError(a, "read", "out-of-range");
          }
          out.set(reply.payload.subarray(dmaAccessLayout.size), at);
        }
        return out;
      },
      write: async (address, data) => {
        const chunk = this.clientCaps?.maxDataXferSize ?? 1 << 20;
        for (let at = 0; at < data.byteLength; at += chunk) {
          const piece = data.subarray(at, Math.min(at + chunk, data.byteLength));
          const a = address + BigInt(at);
          await this.#command(VfioUserCommand.DMA_WRITE, dmaAccessLayout.encode({ address: a, count: BigInt(piece.byteLength) }), piece);
        }
      },
    };
  }

  /** Sends a server→client command (on the twin socket when there is one) and waits for its reply. */
  #command(command: number, ...parts: Uint8Array[]): Promise<Message> {
    if (this.#closed) return Promise.reject(new DmaFaultError(0n, "read", "not-mapped"));
    const transport = this.#twin ?? this.#transport;
    // Ids are per direction; wrap at 16 bits, skipping any still in flight.
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    return new Promise<Message>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (m) => {
          if (m.header.flags & VFIO_USER_F_ERROR) reject(new DmaFaultError(0n, command === VfioUserCommand.DMA_READ ? "read" : "write", "not-mapped"));
          else resolve(m);
        },
        reject,
      });
      try {
        transport.send(encodeCommand(id, command, false, ...parts));
      } catch (error) {
        this.#pending.delete(id);
        reject(error as Error);
      }
    });
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
    for (const pending of this.#pending.values()) pending.reject(new DmaFaultError(0n, "read", "not-mapped"));
    this.#pending.clear();
    this.#finish(error);
  }
}
