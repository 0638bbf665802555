/**
 * How messages move between a vfio-user client and server. The protocol core (handle-request,
 * client) sees only this interface; a transport moves bytes, and fds where it can
 * (libvfio-user's transport_ops).
 */
import type { TransportLimits } from "../limits.js";
import type { Message } from "../protocol/message.js";

export interface TransportHandlers {
  /** A complete message. The handler owns its fds. */
  message(message: Message): void;
  /** The connection ended: the peer closed it, a framing error, or close(). Called once. */
  closed(error?: Error): void;
}

export interface Transport {
  /** false for node:net streams: Node cannot send SCM_RIGHTS (nodejs/node#53391). */
  readonly canPassFds: boolean;
  /** Starts delivering messages. Call once. */
  start(handlers: TransportHandlers): void;
  /**
   * Queues one whole message (header and payload) and its fds, sent together in one sendmsg
   * (VFIO-USER.md §1). The fds are the caller's; the transport does not close them, and they
   * must stay open until the message is gone: `sent` runs once it has been handed to the
   * kernel (or dropped because the connection closed), after which the caller may close them.
   * Throws once the transport is closed.
   */
  send(message: Uint8Array, fds?: readonly number[], sent?: () => void): void;
  /** Bounds the reply queue and the time a message may take (limits.ts). */
  limit?(limits: TransportLimits): void;
  /** Closes the connection. Idempotent. */
  close(): void;
  readonly closed: boolean;
}
