/**
 * A Transport over a node:net stream: no fds (nodejs/node#53391), so the peer runs the
 * message-based paths: DMA_READ/DMA_WRITE instead of shared memory, REGION_READ/WRITE
 * instead of mmap, and no eventfd interrupts (cf. libvfio-user's tran_pipe.c).
 * Bounded as ScmTransport is (limits.ts): the socket is paused while too many reply bytes wait.
 */
import type { Socket } from "node:net";
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { VFIO_USER_MAX_MSG_SIZE } from "../../abi/vfio-user/header.js";
import { Deadline, type TransportLimits } from "../limits.js";
import { MessageReader } from "../protocol/reader.js";
import type { Transport, TransportHandlers } from "./transport.js";

export class StreamTransport implements Transport {
  readonly canPassFds = false;
  readonly #socket: Socket;
  readonly #reader: MessageReader;
  #handlers: TransportHandlers | undefined;
  #closed = false;
  #maxQueuedBytes = Infinity;
  #drain!: Deadline;
  #messageTimer!: Deadline;

  constructor(socket: Socket, options: TransportLimits & { readonly maxMessageSize?: number } = {}) {
    this.#socket = socket;
    // No fds ever arrive here, so there is nothing to close.
    this.#reader = new MessageReader(options.maxMessageSize ?? VFIO_USER_MAX_MSG_SIZE, () => undefined);
    this.limit(options);
  }

  /** Sets the bounds (limits.ts). */
  limit(limits: TransportLimits): void {
    this.#drain?.stop();
    this.#messageTimer?.stop();
    this.#maxQueuedBytes = limits.maxQueuedBytes ?? Infinity;
    const timedOut = (why: string) => () => this.#fail(new VfioSystemError("VFIO_USER_VERSION", errnoValue("ETIMEDOUT"), "vfio-user", undefined, why));
    this.#drain = new Deadline(limits.drainTimeoutMs ?? 0, timedOut("the peer does not read its replies"));
    this.#messageTimer = new Deadline(limits.messageTimeoutMs ?? 0, timedOut("a message was left half-sent"));
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    this.#socket.setNoDelay?.(true);
    this.#socket.on("data", (chunk: Buffer) => {
      if (this.#closed) return;
      let messages;
      try {
        messages = this.#reader.feed(chunk, []);
      } catch (error) {
        this.#fail(error as Error);
        return;
      }
      for (const message of messages) if (!this.#closed) handlers.message(message);
      if (this.#reader.midMessage) this.#messageTimer.arm();
      else this.#messageTimer.stop();
    });
    this.#socket.on("drain", () => {
      this.#drain.stop();
      if (!this.#closed) this.#socket.resume();
    });
    this.#socket.on("error", (error) => this.#fail(error));
    this.#socket.on("close", () => this.#fail(undefined));
  }

  send(message: Uint8Array, fds: readonly number[] = [], sent?: () => void): void {
    if (this.#closed) throw new VfioSystemError("VFIO_USER_VERSION", errnoValue("EPIPE"), "vfio-user", undefined, "the connection is closed");
    if (fds.length > 0) throw new VfioSystemError("VFIO_USER_VERSION", errnoValue("EINVAL"), "vfio-user", undefined, "this transport cannot pass fds");
    this.#socket.write(message);
    sent?.();
    if (this.#socket.writableLength > this.#maxQueuedBytes) {
      this.#socket.pause();
      this.#drain.arm();
    }
  }

  #fail(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drain.stop();
    this.#messageTimer.stop();
    this.#socket.destroy();
    this.#handlers?.closed(error);
  }

  close(): void {
    this.#fail(undefined);
  }
}
