/**
 * A Transport over a UNIX stream socket fd through FFI sendmsg/recvmsg, passing fds as
 * SCM_RIGHTS. The socket is non-blocking and watched on Node's event loop (a uv_poll_t, no
 * thread); each readable event drains the socket into one off-heap buffer, and the framing is
 * MessageReader's. Sends go out at once when the socket takes them; the rest waits for
 * writability, in order.
 */
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { VFIO_USER_MAX_MSG_SIZE } from "../../abi/vfio-user/header.js";
import { SHUT_RDWR, loadSocketLibc, type SocketLibc, type SocketWatch } from "../../native/socket.js";
import { MessageReader } from "../protocol/reader.js";
import type { Transport, TransportHandlers } from "./transport.js";

export interface ScmTransportOptions {
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
        this.#queue.push({ data: message.subarray(n), fds: [], sent: undefined });
      } else if (n === -EAGAIN) {
        this.#queue.push({ data: message, fds, sent });
      } else {
        sent?.();
        this.#fail(new VfioSystemError("VFIO_USER_VERSION", -n, "vfio-user", this.#name, "sendmsg failed"));
        return;
      }
      this.#updateWatch();
      return;
    }
    this.#queue.push({ data: message, fds, sent });
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
      if (n < head.data.byteLength) {
        head.data = head.data.subarray(n);
        head.fds = [];
        break;
      }
      this.#queue.shift();
    }
    this.#updateWatch();
  }

  #read(): void {
    for (let i = 0; i < READS_PER_EVENT && !this.#closed; i++) {
      const got = this.#libc.recvmsg(this.#fd, this.#buffer, this.#maxFds);
      if (typeof got === "number") {
        if (got === -EAGAIN) return;
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
      for (const message of messages) {
        if (this.#closed) {
          for (const fd of message.fds) this.#libc.close(fd);
          continue;
        }
        this.#handlers?.message(message);
      }
      if (got.bytes < this.#buffer.byteLength) return;
    }
  }

  #updateWatch(): void {
    this.#watch?.update({ readable: !this.#closed, writable: !this.#closed && this.#queue.length > 0 });
  }

  #fail(error: Error | undefined): void {
    if (this.#closed) return;
    this.#shutdown();
    this.#handlers?.closed(error);
  }

  #shutdown(): void {
    this.#closed = true;
    // Messages never sent release their fds to their owners.
    for (const o of this.#queue.splice(0)) o.sent?.();
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
