/**
 * The NVMe facts the controller model answers with, the device side's own copy (NVMe Base
 * Specification 2.0; NVM Command Set Specification 1.0). Values QEMU's controller reports are
 * taken from hw/nvme/ctrl.c and nvme.h of QEMU 7.2, the reference for this model.
 */

/** Controller properties in BAR0 (Base §3.1.3, Figure 33). */
export const REG = { CAP: 0x00, VS: 0x08, INTMS: 0x0c, INTMC: 0x10, CC: 0x14, CSTS: 0x1c, NSSR: 0x20, AQA: 0x24, ASQ: 0x28, ACQ: 0x30, DOORBELLS: 0x1000 } as const;

export const CC_EN = 1;
export const CC_SHN_SHIFT = 14;
export const CSTS_RDY = 1;
export const CSTS_CFS = 2;
export const CSTS_SHST_COMPLETE = 2 << 2;

/** Status Code Types and Generic Command Status values (Base §4.6.1.2, Figure 94; NVM §4.1.1). */
export const SCT_SPECIFIC = 1;
export const SC = {
  SUCCESS: 0x00, INVALID_OPCODE: 0x01, INVALID_FIELD: 0x02, DATA_TRANSFER_ERROR: 0x04, INTERNAL_ERROR: 0x06,
  ABORTED_SQ_DELETION: 0x08, INVALID_NAMESPACE: 0x0b, INVALID_PRP_OFFSET: 0x13, LBA_OUT_OF_RANGE: 0x80,
} as const;
/** Command Specific Status of queue creation and deletion (Base §5.4–5.7). */
export const SC_SPECIFIC = { INVALID_CQ: 0x00, INVALID_QID: 0x01, INVALID_QSIZE: 0x02, INVALID_QUEUE_DELETION: 0x0c, INVALID_VECTOR: 0x08 } as const;
/** Do Not Retry, bit 14 of the Status Field: QEMU sets it on every error above. */
export const DNR = 1 << 14;

/** A status field value: SC | SCT << 8, with DNR. */
export function status(code: number, type = 0): number {
  return code === 0 && type === 0 ? 0 : code | (type << 8) | DNR;
}

export const ADMIN = { DELETE_SQ: 0x00, CREATE_SQ: 0x01, GET_LOG_PAGE: 0x02, DELETE_CQ: 0x04, CREATE_CQ: 0x05, IDENTIFY: 0x06, ABORT: 0x08, SET_FEATURES: 0x09, GET_FEATURES: 0x0a } as const;
export const NVM = { FLUSH: 0x00, WRITE: 0x01, READ: 0x02, WRITE_ZEROES: 0x08, DSM: 0x09 } as const;
export const FEATURE_NUMBER_OF_QUEUES = 0x07;
/** ONCS bits the model offers: Dataset Management (2) and Write Zeroes (3). */
export const ONCS = (1 << 2) | (1 << 3);

/** One decoded Submission Queue Entry (Base §4.2, Figure 87). */
export interface Sqe {
  readonly opcode: number;
  readonly cid: number;
  readonly nsid: number;
  readonly prp1: bigint;
  readonly prp2: bigint;
  readonly cdw10: number;
  readonly cdw11: number;
  readonly cdw12: number;
  readonly cdw13: number;
}

export function decodeSqe(bytes: Uint8Array): Sqe {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 64);
  const dw0 = v.getUint32(0, true);
  return {
    opcode: dw0 & 0xff, cid: dw0 >>> 16, nsid: v.getUint32(4, true), prp1: v.getBigUint64(24, true), prp2: v.getBigUint64(32, true),
    cdw10: v.getUint32(40, true), cdw11: v.getUint32(44, true), cdw12: v.getUint32(48, true), cdw13: v.getUint32(52, true),
  };
}

/** What a command produced: a status field and Dword 0. */
export interface Outcome {
  readonly status: number;
  readonly result?: number;
}
