/**
 * Opening a client connection: an FFI socket for SCM_RIGHTS, or node:net without fds.
 */
import { connect as netConnect } from "node:net";
import { constants } from "node:os";
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { loadSocketLibc } from "../../native/socket.js";
import { ScmTransport } from "./scm-transport.js";
import { StreamTransport } from "./stream-transport.js";
import type { Transport } from "./transport.js";

export interface ConnectOptions {
  /** Pass fds (default true). */
  readonly fds?: boolean;
  /** How long to keep retrying while the server's backlog is full (EAGAIN). Default 5000 ms, QEMU's x-msg-timeout. */
  readonly timeoutMs?: number;
}

const EAGAIN = errnoValue("EAGAIN");
const errnoNames = constants.errno as Record<string, number>;

/** Connects to a vfio-user server's socket. Rejects with the errno connect(2) gave (ENOENT, ECONNREFUSED, ...). */
export async function connectTransport(path: string, options: ConnectOptions = {}): Promise<Transport> {
  if (!(options.fds ?? true)) {
    return new Promise((resolve, reject) => {
      const socket = netConnect(path);
      socket.once("connect", () => {
        socket.removeAllListeners("error");
        resolve(new StreamTransport(socket));
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        const errno = error.code && error.code in errnoNames ? errnoNames[error.code]! : errnoValue("EIO");
        reject(new VfioSystemError("open", errno, "vfio-user", path, "connect failed"));
      });
    });
  }
  const s = loadSocketLibc();
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    const fd = s.socket();
    if (fd < 0) throw new VfioSystemError("open", -fd, "syscall", path, "socket() failed");
    const r = s.connect(fd, path);
    if (r === 0) return new ScmTransport(fd, { name: path });
    s.close(fd);
    // A full backlog (the server is busy with another client) answers EAGAIN on a
    // non-blocking UNIX socket: wait and retry rather than fail.
    if (r !== -EAGAIN || Date.now() > deadline) {
      throw new VfioSystemError("open", -r, "vfio-user", path, r === -errnoValue("ENOENT") ? "no socket there: is the server running?" : r === -errnoValue("ECONNREFUSED") ? "nothing listens on this socket" : undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
