/**
 * A Transport over a node:net stream: no fds (nodejs/node#53391), so the peer runs the
 * message-based paths: DMA_READ/DMA_WRITE instead of shared memory, REGION_READ/WRITE
 * instead of mmap, and no eventfd interrupts (cf. libvfio-user's tran_pipe.c).
 */
import type { Socket } from "node:net";
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { VFIO_USER_MAX_MSG_SIZE } from "../../abi/vfio-user/header.js";
import { MessageReader } from "../protocol/reader.js";
import type { Transport, TransportHandlers } from "./transport.js";

export class StreamTransport implements Transport {
  readonly canPassFds = false;
  readonly #socket: Socket;
  readonly #reader: MessageReader;
  #handlers: TransportHandlers | undefined;
  #closed = false;

  constructor(socket: Socket, options: { readonly maxMessageSize?: number } = {}) {
    this.#socket = socket;
    // No fds ever arrive here, so there is nothing to close.
    this.#reader = new MessageReader(options.maxMessageSize ?? VFIO_USER_MAX_MSG_SIZE, () => undefined);
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
    });
    this.#socket.on("error", (error) => this.#fail(error));
    this.#socket.on("close", () => this.#fail(undefined));
  }

  send(message: Uint8Array, fds: readonly number[] = [], sent?: () => void): void {
    if (this.#closed) throw new VfioSystemError("VFIO_USER_VERSION", errnoValue("EPIPE"), "vfio-user", undefined, "the connection is closed");
    if (fds.length > 0) throw new VfioSystemError("VFIO_USER_VERSION", errnoValue("EINVAL"), "vfio-user", undefined, "this transport cannot pass fds");
    this.#socket.write(message);
    sent?.();
  }

  #fail(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#handlers?.closed(error);
  }

  close(): void {
    this.#fail(undefined);
  }
}
