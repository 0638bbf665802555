/**
 * The admin commands the driver sends, as NvmeCommand values (NVMe Base Specification 2.0, §5).
 * Pure builders: the controller submits them on the admin queue.
 */
import { ADMIN, CNS, FEATURE, type NvmeCommand } from "./command.js";

/** Identify (§5.17): CDW10 CNS 07:00; 4096 bytes of data. */
export function identify(cns: number, nsid: number, iova: bigint): NvmeCommand {
  const name = cns === CNS.CONTROLLER ? "Identify Controller" : cns === CNS.NAMESPACE ? "Identify Namespace" : "Identify Active Namespace List";
  return { opcode: ADMIN.IDENTIFY, name, nsid, cdw10: cns, data: { iova, length: 4096 } };
}

/**
 * Set Features, Number of Queues (§5.27.1.5, Figure 322): CDW11 NSQR 15:00 and NCQR 31:16,
 * both zero-based. Dword 0 of the completion holds the numbers allocated, zero-based too.
 */
export function setNumberOfQueues(submission: number, completion: number): NvmeCommand {
  return { opcode: ADMIN.SET_FEATURES, name: "Set Features (Number of Queues)", cdw10: FEATURE.NUMBER_OF_QUEUES, cdw11: ((submission - 1) & 0xffff) | (((completion - 1) & 0xffff) << 16) };
}

/** Decodes Set/Get Features Number of Queues' Dword 0: the counts allocated (one-based). */
export function decodeNumberOfQueues(result: number): { readonly submission: number; readonly completion: number } {
  return { submission: (result & 0xffff) + 1, completion: (result >>> 16) + 1 };
}

/**
 * Create I/O Completion Queue (§5.4, Figures 149–150): CDW10 QSIZE 31:16 (zero-based) and QID
 * 15:00; CDW11 IV 31:16, IEN bit 1, PC bit 0 (physically contiguous: our rings are one buffer).
 */
export function createIoCompletionQueue(qid: number, entries: number, iova: bigint, vector: number, interrupts: boolean): NvmeCommand {
  return {
    opcode: ADMIN.CREATE_IO_CQ,
    name: "Create I/O Completion Queue",
    cdw10: (((entries - 1) & 0xffff) << 16) | qid,
    cdw11: ((vector & 0xffff) << 16) | (interrupts ? 2 : 0) | 1,
    data: { iova, length: 0 },
  };
}

/**
 * Create I/O Submission Queue (§5.5, Figures 152–153): CDW10 as above; CDW11 CQID 31:16,
 * QPRIO 02:01 (ignored under round robin), PC bit 0.
 */
export function createIoSubmissionQueue(qid: number, entries: number, iova: bigint, cqid: number): NvmeCommand {
  return {
    opcode: ADMIN.CREATE_IO_SQ,
    name: "Create I/O Submission Queue",
    cdw10: (((entries - 1) & 0xffff) << 16) | qid,
    cdw11: ((cqid & 0xffff) << 16) | 1,
    data: { iova, length: 0 },
  };
}

/** Delete I/O Submission Queue (§5.7) and Delete I/O Completion Queue (§5.6): CDW10 QID. */
export function deleteIoSubmissionQueue(qid: number): NvmeCommand {
  return { opcode: ADMIN.DELETE_IO_SQ, name: "Delete I/O Submission Queue", cdw10: qid };
}

export function deleteIoCompletionQueue(qid: number): NvmeCommand {
  return { opcode: ADMIN.DELETE_IO_CQ, name: "Delete I/O Completion Queue", cdw10: qid };
}
