/**
 * What a `--socket PATH` is, for `vfio serve` (bind(2) there) and `vfio info --socket`
 * (connect(2) there), checked before the syscall so the user reads the cause and the next
 * step in one line rather than the bare errno: bind(2) answers EADDRINUSE alike for a live
 * server, a stale socket file left by a crash, a directory and a regular file (unix(7)).
 */
import { lstat, stat } from "node:fs/promises";
import { connect } from "node:net";
import { constants } from "node:os";
import { dirname } from "node:path";
import { VfioSystemError, VfioUsageError, errnoValue } from "../api/errors.js";
import type { VfioOp } from "../api/op.js";
import { fsErrorCode } from "../host/read-error.js";

/** Resolves true when a server accepts a connection at `path`, false on ECONNREFUSED (a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if (fsErrorCode(error) === "ENOENT") return undefined;
    throw asSocketError("bind", path, error);
  }
}

/**
 * Rejects when `vfio serve` cannot create its socket at `path`: a missing parent directory or
 * a directory or file at `path` (VfioUsageError, exit 2); a server already there, or a stale
 * socket file (VfioSystemError EADDRINUSE, op "bind", exit 1, with the remedy).
 */
export async function checkServeSocketPath(path: string): Promise<void> {
  const parent = dirname(path);
  const dir = await stat(parent).catch((error: unknown) => {
    if (fsErrorCode(error) === "ENOENT" || fsErrorCode(error) === "ENOTDIR") return undefined;
    throw asSocketError("bind", path, error);
  });
  if (dir === undefined || !dir.isDirectory()) {
    throw new VfioUsageError(`--socket ${path}: directory ${parent} does not exist; create it (mkdir -p ${parent}) or pass another path`, "ENOENT");
  }
  const existing = await lstatOrUndefined(path);
  if (existing === undefined) return;
  if (existing.isDirectory()) throw new VfioUsageError(`--socket ${path} is a directory; give a path inside it, e.g. ${path.replace(/\/+$/, "")}/edu.sock`, "EISDIR");
  if (!existing.isSocket()) throw new VfioUsageError(`--socket ${path} exists and is not a socket; pass another path`, "EEXIST");
  const hint = (await answers(path))
    ? "a server already listens there; stop it or pass another path"
    : `a stale socket file (no server answers); remove it (rm ${path}) or pass another path`;
  throw new VfioSystemError("bind", errnoValue("EADDRINUSE"), "syscall", path, hint);
}

/**
 * Rejects when `vfio info --socket PATH` cannot connect: a directory or a file that is not a
 * socket (VfioUsageError, exit 2); nothing at `path` (VfioSystemError ENOENT, op "connect",
 * exit 1, naming `vfio serve`).
 */
export async function checkConnectSocketPath(path: string): Promise<void> {
  let existing;
  try {
    existing = await stat(path);
  } catch (error) {
    if (fsErrorCode(error) === "ENOENT") {
      throw new VfioSystemError("connect", errnoValue("ENOENT"), "vfio-user", path, `no socket there: is the server running? ('vfio serve edu --socket ${path}')`, { cause: error });
    }
    throw asSocketError("connect", path, error);
  }
  if (existing.isDirectory()) throw new VfioUsageError(`--socket ${path} is a directory, not a socket; give the server's socket file`, "EISDIR");
  if (!existing.isSocket()) throw new VfioUsageError(`--socket ${path} is not a socket; give the server's socket file`, "ENOTSOCK");
}

/**
 * A failure of bind(2)/connect(2) at `path` (a VfioSystemError of the user/ transport, or a
 * node:net error) as a VfioSystemError of `op` with the remedy for the usual errnos.
 */
export function asSocketError(op: VfioOp, path: string, error: unknown): VfioSystemError {
  const errno = error instanceof VfioSystemError ? error.errno
    : (constants.errno as Record<string, number | undefined>)[fsErrorCode(error) ?? ""] ?? errnoValue("EIO");
  const hints: Record<number, string> = {
    [errnoValue("EADDRINUSE")]: `something else is at this path; remove it (rm ${path}) or pass another path`,
    [errnoValue("ECONNREFUSED")]: `a stale socket file: nothing listens; start the server ('vfio serve edu --socket ${path}') or remove it`,
    [errnoValue("EACCES")]: "permission denied; pass a path you may write, or run as its owner",
    [errnoValue("ENAMETOOLONG")]: "a UNIX socket path has at most 107 bytes (unix(7)); pass a shorter one",
  };
  const hint = hints[errno] ?? (error instanceof VfioSystemError ? error.hint : undefined);
  return new VfioSystemError(op, errno, error instanceof VfioSystemError ? error.via : "syscall", path, hint, { cause: error });
}
