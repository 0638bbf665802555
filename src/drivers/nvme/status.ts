/**
 * Completion status (NVMe Base Specification 2.0, §4.6.1 "Status Field Definition", Figures
 * 92–97) and the errors the NVMe driver raises. A failed command is an NvmeCommandError with
 * code "EIO" (as Linux's nvme_error_status maps most statuses) and the decoded status, so a
 * caller matches on `status.type` / `status.code`, never on text.
 */
import { VfioError } from "../../api/errors.js";

/** Status Code Type, bits 10:08 of the Status Field (Figure 93). */
export const SCT_GENERIC = 0;
export const SCT_COMMAND_SPECIFIC = 1;
export const SCT_MEDIA = 2;
export const SCT_PATH = 3;
export const SCT_VENDOR = 7;

/** Generic Command Status values (§4.6.1.2.1, Figure 94; LBA statuses from the NVM Command Set Specification 1.0, §4.1.1). */
export const SC = {
  SUCCESS: 0x00,
  INVALID_OPCODE: 0x01,
  INVALID_FIELD: 0x02,
  COMMAND_ID_CONFLICT: 0x03,
  DATA_TRANSFER_ERROR: 0x04,
  INTERNAL_ERROR: 0x06,
  ABORT_REQUESTED: 0x07,
  ABORTED_SQ_DELETION: 0x08,
  INVALID_NAMESPACE: 0x0b,
  INVALID_PRP_OFFSET: 0x13,
  LBA_OUT_OF_RANGE: 0x80,
  CAPACITY_EXCEEDED: 0x81,
  NAMESPACE_NOT_READY: 0x82,
} as const;

/** Command Specific Status values of the admin queue commands (§5.4, §5.5, Figures 151/153). */
export const SC_SPECIFIC = {
  INVALID_COMPLETION_QUEUE: 0x00,
  INVALID_QUEUE_IDENTIFIER: 0x01,
  INVALID_QUEUE_SIZE: 0x02,
  INVALID_INTERRUPT_VECTOR: 0x08,
} as const;

const genericNames = new Map<number, string>(Object.entries(SC).map(([name, value]) => [value, name.toLowerCase().replaceAll("_", " ")]));

/** The Status Field of a completion queue entry, decoded. */
export interface NvmeStatus {
  /** Status Code Type. */
  readonly type: number;
  /** Status Code. */
  readonly code: number;
  /** Do Not Retry. */
  readonly doNotRetry: boolean;
  /** More information in the Error Information log page. */
  readonly more: boolean;
}

/**
 * Decodes the 15-bit Status Field as it sits in bits 31:17 of CQE Dword 3 (shifted down by 17):
 * SC 07:00, SCT 10:08, CRD 12:11, M 13, DNR 14.
 */
export function decodeStatus(field: number): NvmeStatus {
  return { type: (field >>> 8) & 7, code: field & 0xff, more: ((field >>> 13) & 1) === 1, doNotRetry: ((field >>> 14) & 1) === 1 };
}

/** "invalid field (generic 0x02)" */
export function describeStatus(status: NvmeStatus): string {
  if (status.type === SCT_GENERIC) return `${genericNames.get(status.code) ?? "generic status"} (generic 0x${hex2(status.code)})`;
  const type = ["generic", "command specific", "media and data integrity", "path related"][status.type] ?? `type ${status.type}`;
  return `${type} status 0x${hex2(status.code)}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** A command completed with a status other than success. */
export class NvmeCommandError extends VfioError {
  override name = "NvmeCommandError";
  constructor(
    /** The command, e.g. "Read" or "Identify". */
    readonly command: string,
    readonly status: NvmeStatus,
    /** Where the command went: "controller 0000:00:06.0 queue 1". */
    readonly target: string,
  ) {
    super(`nvme: ${command} on ${target} failed: ${describeStatus(status)}`, "EIO");
  }
}

/**
 * The controller stopped answering: a command or a state change did not complete in time
 * ("ETIMEDOUT"), or the controller reports Controller Fatal Status (§3.1.3.6 CSTS.CFS;
 * "EIO", with `fatal` set). After either the controller needs a reset (close and open again).
 */
export class NvmeControllerError extends VfioError {
  override name = "NvmeControllerError";
  constructor(
    message: string,
    code: "ETIMEDOUT" | "EIO" | "ENODEV",
    /** CSTS.CFS was set when the error was found. */
    readonly fatal: boolean,
  ) {
    super(`nvme: ${message}`, code);
  }
}
