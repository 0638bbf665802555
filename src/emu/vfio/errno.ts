/** The emulated kernel's failures: a VfioSystemError with `via: "emulated"` and the errno Linux gives. */
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import type { VfioOp } from "../../api/op.js";
import type { constants } from "node:os";

export type ErrnoName = keyof typeof constants.errno;

/** Throws the failure of `op` with errno `name`, naming what it acted on and why. */
export function fail(op: VfioOp, name: ErrnoName, target?: string, hint?: string): never {
  throw new VfioSystemError(op, errnoValue(name), "emulated", target, hint);
}
