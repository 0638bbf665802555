/**
 * What every kernel-backend object shares: the syscall surface, sysfs for explanations, the
 * process's locked-memory facts, and where /dev/vfio is. Passed down from KernelSystem, so a
 * unit test builds one with a scripted Libc and a fixture sysfs.
 */
import type { VfioOp } from "../api/op.js";
import type { Sysfs } from "../api/sysfs.js";
import { VfioSystemError } from "../api/errors.js";
import type { Libc } from "../native/libc.js";
import type { LockedMemory } from "./memlock.js";

export interface KernelContext {
  readonly libc: Libc;
  readonly sysfs: Sysfs;
  readonly lockedMemory: LockedMemory;
  /** "/dev/vfio". */
  readonly devVfio: string;
}

/** The error of a failed call: `result` is the Libc's -errno. */
export function syscallError(op: VfioOp, result: number | bigint, target: string, hint?: string): VfioSystemError {
  return new VfioSystemError(op, -Number(result), "ioctl", target, hint);
}
