/**
 * Errors of every layer. `code` is what callers match on (as Node and undici document it):
 * an errno name ("EEXIST") for a failed operation, or a vfio-ts code for usage and protocol
 * errors. errno is positive, as in `os.constants.errno` and the vfio-user header.
 *
 * The one node: import in api/ (test/architecture.test.ts enforces it): `node:os` for
 * `constants.errno`, the platform's errno name table. It is a constant table, no I/O and no
 * native code of ours, and copying it would let our names drift from the ones Node's own
 * errors (`err.code`) carry.
 */
import { constants } from "node:os";
import type { VfioOp } from "./op.js";

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // Several names share a value (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK): keep the first, the usual one.
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** The name of a positive errno value, e.g. 17 → "EEXIST". */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** The positive errno value of a name, e.g. "EEXIST" → 17. */
export function errnoValue(name: keyof typeof constants.errno): number {
  return constants.errno[name];
}

/** The base of every error vfio-ts raises on purpose. */
export class VfioError extends Error {
  override name = "VfioError";
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Which backend an operation went through. */
export type Via = "ioctl" | "vfio-user" | "emulated" | "sysfs" | "syscall";

/**
 * A failed VFIO operation: the operation, its errno, the backend, and what it acted on.
 * One constructor builds every syscall error, so no path can drop errno.
 */
export class VfioSystemError extends VfioError {
  override name = "VfioSystemError";
  constructor(
    readonly op: VfioOp,
    readonly errno: number,
    readonly via: Via,
    /** What the operation acted on: "group 5", "device 0000:00:03.0", "/dev/vfio/vfio". */
    readonly target?: string,
    /** Why, and what to do next, where that is known. */
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    const code = errnoName(errno);
    super(`${op}${target ? ` on ${target}` : ""} failed: ${code}${hint ? `: ${hint}` : ""}`, code, options);
  }
}

/** Malformed input from a peer (a vfio-user message) or from the host (sysfs contents). */
export class VfioProtocolError extends VfioError {
  override name = "VfioProtocolError";
  constructor(
    message: string,
    /** The offending field, e.g. "msg_size". */
    readonly field: string,
    /** The errno to answer a peer with. */
    readonly errno = errnoValue("EINVAL"),
  ) {
    super(message, "EPROTO");
  }
}

/**
 * A user's mistake that the CLI reports in one line with exit status 2: a malformed address,
 * a group that does not exist, a directory that is not a sysfs tree.
 */
export class VfioUsageError extends VfioError {
  override name = "VfioUsageError";
  constructor(message: string, code = "EUSAGE", options?: ErrorOptions) {
    super(message, code, options);
  }
}

export function isVfioError(error: unknown): error is VfioError {
  return error instanceof VfioError;
}
