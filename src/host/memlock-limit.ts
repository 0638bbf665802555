/**
 * RLIMIT_MEMLOCK from /proc/<pid>/limits ("Max locked memory  8388608  8388608  bytes").
 * VFIO type1 pins every page it maps and charges it to this limit unless the process has
 * CAP_IPC_LOCK (drivers/vfio/vfio_iommu_type1.c vfio_lock_acct()); a mapping past it fails
 * with ENOMEM.
 */
import { VfioProtocolError } from "../api/errors.js";

/** Soft and hard limits in bytes; undefined means unlimited. */
export interface MemlockLimit {
  readonly soft: bigint | undefined;
  readonly hard: bigint | undefined;
}

/**
 * Parses the "Max locked memory" line of a limits file; undefined when the line is missing.
 *
 * @example
 * parseMemlockLimit("Max locked memory  8388608  8388608  bytes\n"); // { soft: 8388608n, hard: 8388608n }
 */
export function parseMemlockLimit(limits: string): MemlockLimit | undefined {
  const line = limits.split("\n").find((l) => l.startsWith("Max locked memory"));
  if (line === undefined) return undefined;
  const match = /^Max locked memory\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
  if (!match) throw new VfioProtocolError(`limits: cannot read '${line.trim()}'`, "Max locked memory");
  const value = (v: string): bigint | undefined => (v === "unlimited" ? undefined : BigInt(v));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}
