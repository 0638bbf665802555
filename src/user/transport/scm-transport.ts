/**
 * A Transport over a UNIX stream socket fd through FFI sendmsg/recvmsg, passing fds as
 * SCM_RIGHTS. The socket is non-blocking and watched on Node's event loop (a uv_poll_t, no
 * thread); each readable event drains the socket into one off-heap buffer, and the framing is
 * MessageReader's. Sends go out at once when the socket takes them; the rest waits for
 * writability, in order.
 *
 * Bounds (limits.ts): while more than `maxQueuedBytes` wait to be sent, the socket is not read
 * (the peer's requests stay in the kernel, and its sends block), and a peer that leaves the
 * queue over the bound for `drainTimeoutMs` is closed. A message begun must arrive whole within
 * `messageTimeoutMs`.
 */
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { VFIO_USER_MAX_MSG_SIZE } from "../../abi/vfio-user/header.js";
import { SHUT_RDWR, loadSocketLibc, type SocketLibc, type SocketWatch } from "../../native/socket.js";
import { Deadline, type TransportLimits } from "../limits.js";
import { MessageReader } from "../protocol/reader.js";
import type { Message } from "../protocol/message.js";
import type { Transport, TransportHandlers } from "./transport.js";

export interface ScmTransportOptions extends TransportLimits {
  /** Largest msg_size accepted (default libvfio-user's 1 MiB + 32). */
  readonly maxMessageSize?: number;
  /** Most fds accepted in one read (default 253, SCM_MAX_FD). */
  readonly maxFds?: number;
  /** What the socket is, for errors: "/run/edu.sock". */
  readonly name?: string;
}

const EAGAIN = errnoValue("EAGAIN");
/** Reads per readable event before yielding to the loop, so one busy peer cannot starve others. */
const READS_PER_EVENT = 64;

interface Outgoing {
  data: Uint8Array;
  fds: readonly number[];
  sent: (() => void) | undefined;
}

export class ScmTransport implements Transport {
  readonly canPassFds = true;
  #fd: number;
  readonly #libc: SocketLibc;
  readonly #reader: MessageReader;
  readonly #buffer: Uint8Array;
  readonly #maxFds: number;
  readonly #name: string;
  #watch: SocketWatch | undefined;
  #handlers: TransportHandlers | undefined;
  readonly #queue: Outgoing[] = [];
  #queuedBytes = 0;
  #watching: { readable: boolean; writable: boolean } | undefined;
  /** Messages read but not yet handed over: one read can hold thousands, each with a large reply. */
  #inbox: (Message | undefined)[] = [];
  /** The first message of the inbox not yet handed over. */
  #inboxAt = 0;
  #maxQueuedBytes = Infinity;
  #drain!: Deadline;
  #messageTimer!: Deadline;
  #closed = false;

  /** Takes ownership of `fd`, a connected non-blocking AF_UNIX stream socket. */
  constructor(fd: number, options: ScmTransportOptions = {}, libc: SocketLibc = loadSocketLibc()) {
    this.#fd = fd;
    this.#libc = libc;
    const max = options.maxMessageSize ?? VFIO_USER_MAX_MSG_SIZE;
    this.#reader = new MessageReader(max, (f) => libc.close(f));
    // Reads of up to 256 KiB: a larger message arrives in several reads and MessageReader
    // joins them, so the buffer need not hold the largest message (and a connection costs
    // 256 KiB, not 1 MiB).
    this.#buffer = new Uint8Array(new ArrayBuffer(Math.min(max + 64 * 1024, 256 * 1024)));
    this.#maxFds = options.maxFds ?? 253;
    this.#name = options.name ?? `socket ${fd}`;
    this.limit(options);
  }

  /** Sets the bounds (limits.ts); the server applies its own to every connection it serves. */
  limit(limits: TransportLimits): void {
    this.#drain?.stop();
    this.#messageTimer?.stop();
    this.#maxQueuedBytes = limits.maxQueuedBytes ?? Infinity;
    const timedOut = (why: string) => () => this.#fail(new VfioSystemError("VFIO_USER_VERSION", errnoValue("ETIMEDOUT"), "vfio-user", this.#name, why));
    this.#drain = new Deadline(limits.drainTimeoutMs ?? 0, timedOut("the peer does not read its replies"));
    this.#messageTimer = new Deadline(limits.messageTimeoutMs ?? 0, timedOut("a message was left half-sent"));
  }

  /** Bytes waiting to be sent. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The socket fd (for tests); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  start(handlers: TransportHandlers): void {
    if (this.#handlers) throw new Error("ScmTransport.start() called twice");
    this.#handlers = handlers;
    if (this.#closed) {
      handlers.closed();
      return;
    }
    this.#watch = this.#libc.watch(this.#fd, (events) => {
      if (events.writable) this.#flush();
      if (events.readable && !this.#closed) this.#read();
    });
    this.#updateWatch();
  }

  send(message: Uint8Array, fds: readonly number[] = [], sent?: () => void): void {
    if (this.#closed) throw new VfioSystemError("VFIO_USER_VERSION", errnoValue("EPIPE"), "vfio-user", this.#name, "the connection is closed");
    if (this.#queue.length === 0) {
      const n = this.#libc.sendmsg(this.#fd, message, fds);
      if (n === message.byteLength) {
        sent?.();
        return;
      }
      if (n >= 0) {
        // A partial send: the fds went with the first bytes (the kernel holds its own
        // references now); the rest follows alone.
        sent?.();
        this.#enqueue({ data: message.subarray(n), fds: [], sent: undefined });
      } else if (n === -EAGAIN) {
        this.#enqueue({ data: message, fds, sent });
      } else {
        sent?.();
        this.#fail(new VfioSystemError("VFIO_USER_VERSION", -n, "vfio-user", this.#name, "sendmsg failed"));
        return;
      }
      this.#updateWatch();
      return;
    }
    this.#enqueue({ data: message, fds, sent });
    if (this.#overBound) this.#updateWatch();
  }

  #enqueue(o: Outgoing): void {
    this.#queue.push(o);
    this.#queuedBytes += o.data.byteLength;
  }

  get #overBound(): boolean {
    return this.#queuedBytes > this.#maxQueuedBytes;
  }

  #flush(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0]!;
      const n = this.#libc.sendmsg(this.#fd, head.data, head.fds);
      if (n === -EAGAIN) break;
      if (n < 0) {
        this.#fail(new VfioSystemError("VFIO_USER_VERSION", -n, "vfio-user", this.#name, "sendmsg failed"));
        return;
      }
      head.sent?.();
      head.sent = undefined;
      this.#queuedBytes -= n;
      if (n < head.data.byteLength) {
        head.data = head.data.subarray(n);
        head.fds = [];
        break;
      }
      this.#queue.shift();
    }
    this.#deliver();
    this.#updateWatch();
  }

  /** Hands over read messages while the reply queue is within its bound. */
  #deliver(): void {
    // Each message leaves the inbox before its handler runs (which owns its fds from then on,
    // and may close the connection).
    while (this.#inboxAt < this.#inbox.length && !this.#closed && !this.#overBound) {
      const m = this.#inbox[this.#inboxAt]!;
      this.#inbox[this.#inboxAt++] = undefined;
      this.#handlers?.message(m);
    }
    if (this.#inboxAt === this.#inbox.length) {
      this.#inbox = [];
      this.#inboxAt = 0;
    }
  }

  #read(): void {
    for (let i = 0; i < READS_PER_EVENT && !this.#closed && this.#inboxAt === this.#inbox.length; i++) {
      const got = this.#libc.recvmsg(this.#fd, this.#buffer, this.#maxFds);
      if (typeof got === "number") {
        if (got === -EAGAIN) break;
        this.#fail(new VfioSystemError("VFIO_USER_VERSION", -got, "vfio-user", this.#name, "recvmsg failed"));
        return;
      }
      if (got.truncated) {
        for (const fd of got.fds) this.#libc.close(fd);
        this.#fail(new VfioSystemError("VFIO_USER_VERSION", errnoValue("EMFILE"), "vfio-user", this.#name, "the peer sent more fds than a message may carry"));
        return;
      }
      if (got.bytes === 0) {
        for (const fd of got.fds) this.#libc.close(fd);
        this.#fail(undefined);
        return;
      }
      let messages;
      try {
        messages = this.#reader.feed(this.#buffer.subarray(0, got.bytes), got.fds);
      } catch (error) {
        this.#fail(error as Error);
        return;
      }
      this.#inbox.push(...messages);
      this.#deliver();
      if (this.#reader.midMessage) this.#messageTimer.arm();
      else this.#messageTimer.stop();
      if (got.bytes < this.#buffer.byteLength) break;
    }
    this.#updateWatch();
  }

  #updateWatch(): void {
    if (this.#closed) return;
    const over = this.#overBound;
    // Over the bound: stop reading requests until the peer takes its replies.
    if (over) this.#drain.arm();
    else this.#drain.stop();
    const writable = this.#queue.length > 0;
    // Changing the interest is a call into libuv: only when it changes.
    if (this.#watching?.readable === !over && this.#watching.writable === writable) return;
    this.#watching = { readable: !over, writable };
    this.#watch?.update(this.#watching);
  }

  #fail(error: Error | undefined): void {
    if (this.#closed) return;
    this.#shutdown();
    this.#handlers?.closed(error);
  }

  #shutdown(): void {
    this.#closed = true;
    this.#drain.stop();
    this.#messageTimer.stop();
    // Messages never sent release their fds to their owners.
    for (const o of this.#queue.splice(0)) o.sent?.();
    this.#queuedBytes = 0;
    for (const m of this.#inbox.splice(0)) for (const fd of m?.fds ?? []) this.#libc.close(fd);
    this.#inboxAt = 0;
    // The poll handle goes before the fd (libuv must not poll a closed or reused fd).
    this.#watch?.close();
    this.#watch = undefined;
    this.#reader.dispose();
    if (this.#fd >= 0) {
      this.#libc.shutdown(this.#fd, SHUT_RDWR);
      this.#libc.close(this.#fd);
      this.#fd = -1;
    }
  }

  close(): void {
    this.#fail(undefined);
  }
}
