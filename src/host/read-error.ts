/**
 * How host/ tells "not there" from "not allowed" when node:fs fails on a sysfs or procfs path.
 */
import { VfioUsageError } from "../api/errors.js";

/** The Node error code ("ENOENT") of a failed fs call, if any. */
export function fsErrorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined;
}

/**
 * For EACCES/EPERM, the one-line usage error the CLI prints (code EACCES, exit 2); otherwise
 * undefined. Inspection needs no privilege on a usual /sys, so this names what was refused.
 *
 * @example
 * throw permissionDenied(error, "/sys/bus/pci/devices/0000:00:02.0/config") ?? error;
 */
export function permissionDenied(error: unknown, path: string): VfioUsageError | undefined {
  const code = fsErrorCode(error);
  if (code !== "EACCES" && code !== "EPERM") return undefined;
  return new VfioUsageError(`permission denied reading ${path}: run as root (or a user that may read it)`, "EACCES", { cause: error });
}
