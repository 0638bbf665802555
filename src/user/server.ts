/**
 * A vfio-user server: hosts one device model and serves it to one client at a time on a UNIX
 * socket, then to the next (libvfio-user serves one client per context; VFIO-USER.md §1).
 *
 * With `fds` (the default) the socket is driven through FFI so fds travel as SCM_RIGHTS:
 * DMA windows are mmap'd, interrupts go to the client's eventfds. Without, node:net carries
 * the stream and DMA goes through DMA_READ/DMA_WRITE messages.
 */
import { createServer, type Server, type Socket } from "node:net";
import { unlinkSync } from "node:fs";
import { VfioSystemError } from "../api/errors.js";
import type { DeviceModel } from "../api/hosting.js";
import { VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE } from "../abi/vfio-user/header.js";
import { loadSocketLibc, type SocketWatch } from "../native/socket.js";
import { defaultCapabilities, type Capabilities } from "./protocol/version.js";
import { ServedDevice } from "./served-device.js";
import { defaultServerLimits, type ServerLimits } from "./limits.js";
import { ServerSession, type DmaFailure } from "./server-session.js";
import { ScmTransport } from "./transport/scm-transport.js";
import { StreamTransport } from "./transport/stream-transport.js";
import type { Transport } from "./transport/transport.js";

export interface ServerOptions extends Partial<ServerLimits> {
  /** Pass fds (SCM_RIGHTS through FFI); false serves over node:net with messages only. Default true. */
  readonly fds?: boolean;
  /** Advertised max_data_xfer_size (default 1 MiB). */
  readonly maxDataXferSize?: number;
  /** Advertise REGION_WRITE_MULTI (default true). */
  readonly writeMultiple?: boolean;
  /** Called when a connection ends, with the reason if it was an error (for logs). */
  readonly onDisconnect?: (error: Error | undefined) => void;
  /** Called for each device DMA the server could not complete (for logs). */
  readonly onDmaError?: (failure: DmaFailure) => void;
}

/**
 * What this server advertises: libvfio-user's values (max_msg_fds 8, 1 MiB transfers); no fds
 * at all (max_msg_fds 0) when serving without fd passing, so a client sends none.
 */
function serverCapabilities(options: ServerOptions, limits: ServerLimits): Capabilities {
  return {
    ...defaultCapabilities,
    maxMsgFds: options.fds === false ? 0 : 8,
    maxDataXferSize: options.maxDataXferSize ?? VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE,
    maxDmaMaps: limits.maxDmaMaps,
    writeMultiple: options.writeMultiple ?? true,
  };
}

/**
 * @example
 * const server = await VfioUserServer.listen(new EduDevice(), "/tmp/edu.sock");
 * // ... clients come and go ...
 * await server.close();
 */
export class VfioUserServer {
  readonly device: ServedDevice;
  readonly path: string | undefined;
  readonly #caps: Capabilities;
  readonly #options: ServerOptions;
  readonly #limits: ServerLimits;
  #session: ServerSession | undefined;
  readonly #waiting: Transport[] = [];
  #listenFd = -1;
  #watch: SocketWatch | undefined;
  #netServer: Server | undefined;
  #closed = false;
  #served = 0;

  private constructor(model: DeviceModel, path: string | undefined, options: ServerOptions) {
    this.device = new ServedDevice(model);
    this.path = path;
    this.#options = options;
    const given = Object.fromEntries(Object.entries(options).filter(([k, v]) => k in defaultServerLimits && v !== undefined));
    this.#limits = { ...defaultServerLimits, ...given };
    this.#caps = serverCapabilities(options, this.#limits);
  }

  /** A server with no socket of its own: hand it connections with serve(). */
  static create(model: DeviceModel, options: ServerOptions = {}): VfioUserServer {
    return new VfioUserServer(model, undefined, options);
  }

  /** Creates the socket at `path` and starts accepting clients. */
  static async listen(model: DeviceModel, path: string, options: ServerOptions = {}): Promise<VfioUserServer> {
    const server = new VfioUserServer(model, path, options);
    if (options.fds ?? true) server.#listenScm(path);
    else await server.#listenNet(path);
    return server;
  }

  /** Connections served so far (finished or current). */
  get served(): number {
    return this.#served;
  }

  /** The current client's session, if one is connected. */
  get session(): ServerSession | undefined {
    return this.#session;
  }

  #listenScm(path: string): void {
    const s = loadSocketLibc();
    const fd = s.socket();
    if (fd < 0) throw new VfioSystemError("open", -fd, "syscall", path, "socket() failed");
    for (const [what, result] of [["bind", () => s.bind(fd, path)], ["listen", () => s.listen(fd, 16)]] as const) {
      const r = result();
      if (r < 0) {
        s.close(fd);
        throw new VfioSystemError("open", -r, "syscall", path, `${what}() failed${r === -98 ? ": the socket path is in use" : ""}`);
      }
    }
    this.#listenFd = fd;
    this.#watch = s.watch(fd, () => this.#accept());
    this.#watch.update({ readable: true, writable: false });
  }

  /** What every transport of this server is bounded by. */
  get #transportLimits() {
    return { maxQueuedBytes: this.#limits.maxQueuedReplyBytes, drainTimeoutMs: this.#limits.drainTimeoutMs, messageTimeoutMs: this.#limits.messageTimeoutMs };
  }

  #accept(): void {
    if (this.#closed) return;
    const fd = loadSocketLibc().accept(this.#listenFd);
    if (fd < 0) return;
    this.serve(new ScmTransport(fd, { name: this.path ?? "vfio-user client", ...this.#transportLimits }));
  }

  async #listenNet(path: string): Promise<void> {
    const server = createServer((socket: Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.serve(new StreamTransport(socket, this.#transportLimits));
    });
    this.#netServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  /** Serves a connection now if no client is connected, else when the current one leaves. */
  serve(transport: Transport): void {
    if (this.#closed) {
      transport.close();
      return;
    }
    if (this.#session) {
      // One client at a time; a bounded number wait their turn, the rest are turned away.
      if (this.#waiting.length >= this.#limits.maxQueuedClients) transport.close();
      else this.#waiting.push(transport);
      return;
    }
    transport.limit?.(this.#transportLimits);
    const session = new ServerSession(this.device, transport, this.#caps, this.#limits, this.#options.onDmaError ? { onDmaError: this.#options.onDmaError } : {});
    this.#session = session;
    this.#served++;
    session.start();
    void session.done.then((error) => {
      this.#session = undefined;
      this.#options.onDisconnect?.(error);
      if (this.#closed) return;
      // A waiting client that left while it waited is skipped.
      let next = this.#waiting.shift();
      while (next?.closed) next = this.#waiting.shift();
      if (next) this.serve(next);
    });
  }

  /** Stops accepting, ends the current connection, removes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#listenFd >= 0) {
      loadSocketLibc().close(this.#listenFd);
      this.#listenFd = -1;
      if (this.path) {
        try {
          unlinkSync(this.path);
        } catch {
          // Already gone.
        }
      }
    }
    for (const t of this.#waiting.splice(0)) t.close();
    const session = this.#session;
    session?.close();
    if (session) await session.done;
    if (this.#netServer) await new Promise<void>((resolve) => this.#netServer!.close(() => resolve()));
    this.device.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
