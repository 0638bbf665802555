/**
 * What one vfio-user client may cost the server, as configuration (`vfio serve --help`).
 * Defaults suit a VMM: a QEMU that boots and serves a guest for days stays within them, a
 * client that stalls or floods is cut off within seconds, and nothing grows without bound.
 */
export interface ServerLimits {
  /** Clients accepted and waiting while another is served; more are closed at once. */
  readonly maxQueuedClients: number;
  /** Time a new client has to complete VERSION (ms). */
  readonly handshakeTimeoutMs: number;
  /** Time a negotiated client may send nothing (ms); 0: never (a guest may leave its device idle for hours). */
  readonly idleTimeoutMs: number;
  /** Time a message, once begun, has to arrive whole (ms). */
  readonly messageTimeoutMs: number;
  /** Server→client requests (DMA_READ/DMA_WRITE) awaiting a reply; the device's further DMA fails at once. */
  readonly maxPendingRequests: number;
  /** Time the client has to answer a server→client request (ms); the device's DMA then fails. */
  readonly requestTimeoutMs: number;
  /** Reply bytes queued for a client that does not read them; past this the server stops reading its requests. */
  readonly maxQueuedReplyBytes: number;
  /** Time a client may leave the reply queue over its bound before it is closed (ms). */
  readonly drainTimeoutMs: number;
  /** DMA windows a client may map (advertised as max_dma_maps). */
  readonly maxDmaMaps: number;
}

export const defaultServerLimits: ServerLimits = {
  maxQueuedClients: 16,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 0,
  messageTimeoutMs: 10_000,
  maxPendingRequests: 1024,
  requestTimeoutMs: 10_000,
  maxQueuedReplyBytes: 16 << 20,
  drainTimeoutMs: 10_000,
  maxDmaMaps: 65_535,
};

/** Limits of the transports: the reply queue and the per-message timeout. */
export interface TransportLimits {
  readonly maxQueuedBytes?: number;
  readonly drainTimeoutMs?: number;
  readonly messageTimeoutMs?: number;
}

/** A one-shot timer that can be re-armed; it does not run after stop(). */
export class Deadline {
  #timer: NodeJS.Timeout | undefined;
  constructor(readonly ms: number, readonly fire: () => void) {}
  get armed(): boolean {
    return this.#timer !== undefined;
  }
  /** Starts the timer unless it runs already (or ms is 0: no limit). */
  arm(): void {
    if (this.#timer || this.ms <= 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.fire();
    }, this.ms);
  }
  /** Restarts the timer from now. */
  rearm(): void {
    this.stop();
    this.arm();
  }
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
