/**
 * The controller registers in BAR0 (NVMe Base Specification 2.0, §3.1.3 "Controller Properties",
 * Figure 33) and the decoding of CAP, CC and CSTS. The driver's own copy of the specification,
 * as a C driver's header would be (Linux include/linux/nvme.h); it never looks inside a model.
 */

/** Property offsets in BAR0 (§3.1.3, Figure 33). */
export const NVME_REG = {
  /** Controller Capabilities, 64 bits (§3.1.3.1). */
  CAP: 0x00,
  /** Version (§3.1.3.2). */
  VS: 0x08,
  /** Interrupt Mask Set / Clear: INTx only (§3.1.3.3, §3.1.3.4). */
  INTMS: 0x0c,
  INTMC: 0x10,
  /** Controller Configuration (§3.1.3.5). */
  CC: 0x14,
  /** Controller Status (§3.1.3.6). */
  CSTS: 0x1c,
  /** Admin Queue Attributes (§3.1.3.8). */
  AQA: 0x24,
  /** Admin Submission / Completion Queue Base Address, 64 bits each (§3.1.3.9, §3.1.3.10). */
  ASQ: 0x28,
  ACQ: 0x30,
  /** The first doorbell: Submission Queue 0 Tail (§3.1.3, "SQ0TDBL"). */
  DOORBELLS: 0x1000,
} as const;

/** CC fields (§3.1.3.5, Figure 42). */
export const CC_EN = 1 << 0;
/** I/O Command Set Selected, bits 06:04: 000b NVM Command Set. */
export const CC_CSS_NVM = 0 << 4;
/** Memory Page Size, bits 10:07: 2^(12 + MPS) bytes. */
export const CC_MPS_SHIFT = 7;
/** Arbitration Mechanism, bits 13:11: 000b round robin. */
export const CC_AMS_RR = 0 << 11;
/** Shutdown Notification, bits 15:14: 01b normal shutdown. */
export const CC_SHN_NORMAL = 1 << 14;
export const CC_SHN_MASK = 3 << 14;
/** I/O Submission / Completion Queue Entry Size, log2: 64-byte SQEs, 16-byte CQEs (§4.2, §4.6). */
export const CC_IOSQES = 6 << 16;
export const CC_IOCQES = 4 << 20;

/** CSTS fields (§3.1.3.6, Figure 43). */
export const CSTS_RDY = 1 << 0;
/** Controller Fatal Status. */
export const CSTS_CFS = 1 << 1;
/** Shutdown Status, bits 03:02: 10b shutdown processing complete. */
export const CSTS_SHST_MASK = 3 << 2;
export const CSTS_SHST_COMPLETE = 2 << 2;
/** A read of all ones: the controller is gone (surprise removal, a failed BAR), not a status. */
export const CSTS_ALL_ONES = 0xffffffff;

/** CAP decoded (§3.1.3.1, Figure 36). */
export interface ControllerCapabilities {
  /** Maximum Queue Entries Supported, as a count (the register holds it zero-based). */
  readonly maxQueueEntries: number;
  /** Contiguous Queues Required. */
  readonly contiguousQueuesRequired: boolean;
  /** Timeout: the worst-case time CSTS.RDY takes to change after CC.EN, in milliseconds (CAP.TO × 500 ms). */
  readonly timeoutMs: number;
  /** Doorbell stride in bytes: 2^(2 + CAP.DSTRD). */
  readonly doorbellStride: number;
  /** NVM Subsystem Reset Supported. */
  readonly subsystemReset: boolean;
  /** Command Sets Supported, bits 44:37: bit 0 is the NVM command set. */
  readonly commandSets: number;
  /** Memory page sizes, in bytes: 2^(12 + CAP.MPSMIN) and 2^(12 + CAP.MPSMAX). */
  readonly minPageSize: number;
  readonly maxPageSize: number;
}

export function decodeCapabilities(low: number, high: number): ControllerCapabilities {
  return {
    maxQueueEntries: (low & 0xffff) + 1,
    contiguousQueuesRequired: ((low >>> 16) & 1) === 1,
    timeoutMs: ((low >>> 24) & 0xff) * 500,
    doorbellStride: 4 << (high & 0xf),
    subsystemReset: ((high >>> 4) & 1) === 1,
    commandSets: (high >>> 5) & 0xff,
    minPageSize: 1 << (12 + ((high >>> 16) & 0xf)),
    maxPageSize: 2 ** (12 + ((high >>> 20) & 0xf)),
  };
}

/** VS decoded (§3.1.3.2): "1.4.0". */
export function formatVersion(vs: number): string {
  return `${vs >>> 16}.${(vs >>> 8) & 0xff}.${vs & 0xff}`;
}

/** BAR0 offset of queue `qid`'s submission tail doorbell (§3.1.3, Figure 33: 1000h + (2y × (4 << CAP.DSTRD))). */
export function submissionDoorbell(qid: number, stride: number): number {
  return NVME_REG.DOORBELLS + 2 * qid * stride;
}

/** BAR0 offset of queue `qid`'s completion head doorbell (1000h + ((2y + 1) × (4 << CAP.DSTRD))). */
export function completionDoorbell(qid: number, stride: number): number {
  return NVME_REG.DOORBELLS + (2 * qid + 1) * stride;
}
