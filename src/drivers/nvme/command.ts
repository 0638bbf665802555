/**
 * Commands as the driver builds them: opcodes (NVMe Base Specification 2.0, §5 Figure 138 for the
 * admin set; NVM Command Set Specification 1.0, §3 Figure 15 for I/O) and the 64-byte Submission
 * Queue Entry they are written into (Base §4.2, Figure 87 "Common Command Format").
 */

/** Admin opcodes (Base §5, Figure 138). */
export const ADMIN = {
  DELETE_IO_SQ: 0x00,
  CREATE_IO_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_IO_CQ: 0x04,
  CREATE_IO_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
} as const;

/** NVM command set I/O opcodes (NVM Command Set Specification 1.0, Figure 15). */
export const NVM = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_ZEROES: 0x08,
  DATASET_MANAGEMENT: 0x09,
} as const;

/** Identify CNS values (Base §5.17.1, Figure 273). */
export const CNS = {
  NAMESPACE: 0x00,
  CONTROLLER: 0x01,
  ACTIVE_NAMESPACE_LIST: 0x02,
} as const;

/** Feature identifiers (Base §5.27.1, Figure 317). */
export const FEATURE = {
  NUMBER_OF_QUEUES: 0x07,
} as const;

/** Which way the data of a command moves. */
export type DataDirection = "none" | "to-device" | "from-device";

/**
 * One command, before it has a command identifier and PRPs. `data` is an IOVA range: the
 * queue pair turns it into PRP1/PRP2 and, where needed, a PRP list (prp.ts).
 */
export interface NvmeCommand {
  readonly opcode: number;
  /** For messages and errors: "Read", "Identify". */
  readonly name: string;
  readonly nsid?: number;
  readonly cdw10?: number;
  readonly cdw11?: number;
  readonly cdw12?: number;
  readonly cdw13?: number;
  readonly cdw14?: number;
  readonly cdw15?: number;
  readonly data?: { readonly iova: bigint; readonly length: number };
  /**
   * PRP1 and PRP2 exactly as given, instead of building them from `data`: for commands whose
   * pointers are not a data buffer, and for tests that hand the controller bad pointers.
   */
  readonly prps?: { readonly prp1: bigint; readonly prp2: bigint };
}

/** Size of a Submission Queue Entry (§4.2) and of a Completion Queue Entry (§4.6). */
export const SQE_BYTES = 64;
export const CQE_BYTES = 16;

/**
 * Writes `command` into the SQE at dword `base` of `ring` (§4.2, Figure 87): CDW0 opcode 07:00,
 * FUSE 09:08 = 0, PSDT 15:14 = 00b (PRPs), CID 31:16; NSID; MPTR 0; PRP1, PRP2; CDW10–15.
 * Every dword is written, so a slot's previous command leaves nothing behind.
 */
export function writeSubmissionEntry(ring: Uint32Array, base: number, command: NvmeCommand, cid: number, prp1: bigint, prp2: bigint): void {
  ring[base] = (command.opcode & 0xff) | (cid << 16);
  ring[base + 1] = command.nsid ?? 0;
  ring[base + 2] = 0;
  ring[base + 3] = 0;
  ring[base + 4] = 0;
  ring[base + 5] = 0;
  ring[base + 6] = Number(prp1 & 0xffffffffn);
  ring[base + 7] = Number(prp1 >> 32n);
  ring[base + 8] = Number(prp2 & 0xffffffffn);
  ring[base + 9] = Number(prp2 >> 32n);
  ring[base + 10] = command.cdw10 ?? 0;
  ring[base + 11] = command.cdw11 ?? 0;
  ring[base + 12] = command.cdw12 ?? 0;
  ring[base + 13] = command.cdw13 ?? 0;
  ring[base + 14] = command.cdw14 ?? 0;
  ring[base + 15] = command.cdw15 ?? 0;
}
