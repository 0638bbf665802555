/**
 * The admin command set the model implements (Base §5): Identify (CNS 00h, 01h, 02h), Create
 * and Delete I/O Completion / Submission Queue, Set and Get Features (Number of Queues), and
 * Invalid Opcode for the rest, with QEMU 7.2's checks and status codes (hw/nvme/ctrl.c
 * nvme_create_cq, nvme_create_sq, nvme_identify, nvme_set_feature).
 */
import type { ControllerContext } from "./context.js";
import { activeNamespaceList, identifyController, identifyNamespace } from "./identify-data.js";
import { CompletionQueue, SubmissionQueue } from "./queues.js";
import { ADMIN, FEATURE_NUMBER_OF_QUEUES, SC, SCT_SPECIFIC, SC_SPECIFIC, status, type Outcome, type Sqe } from "./spec.js";

export async function executeAdmin(ctx: ControllerContext, cmd: Sqe): Promise<Outcome> {
  switch (cmd.opcode) {
    case ADMIN.IDENTIFY:
      return identify(ctx, cmd);
    case ADMIN.CREATE_CQ:
      return createCq(ctx, cmd);
    case ADMIN.CREATE_SQ:
      return createSq(ctx, cmd);
    case ADMIN.DELETE_SQ:
      return deleteSq(ctx, cmd);
    case ADMIN.DELETE_CQ:
      return deleteCq(ctx, cmd);
    case ADMIN.SET_FEATURES:
    case ADMIN.GET_FEATURES:
      if ((cmd.cdw10 & 0xff) !== FEATURE_NUMBER_OF_QUEUES) return { status: status(SC.INVALID_FIELD) };
      // QEMU answers with what it has, whatever was asked (nvme_set_feature, NVME_NUMBER_OF_QUEUES).
      return { status: 0, result: (ctx.maxIoQueues - 1) | ((ctx.maxIoQueues - 1) << 16) };
    default:
      return { status: status(SC.INVALID_OPCODE) };
  }
}

async function identify(ctx: ControllerContext, cmd: Sqe): Promise<Outcome> {
  const cns = cmd.cdw10 & 0xff;
  let data: Uint8Array;
  if (cns === 0x01) data = identifyController(ctx.config);
  else if (cns === 0x02) data = activeNamespaceList([...ctx.namespaces.keys()], cmd.nsid);
  else if (cns === 0x00) {
    if (cmd.nsid === 0 || (cmd.nsid > ctx.config.namespaceCount && cmd.nsid !== 0xffffffff)) return { status: status(SC.INVALID_NAMESPACE) };
    const ns = ctx.namespaces.get(cmd.nsid);
    data = ns ? identifyNamespace(ns.config) : new Uint8Array(4096); // inactive: zeros (Base §3.2.1.4)
  } else return { status: status(SC.INVALID_FIELD) };
  return { status: await ctx.writeData(cmd.prp1, cmd.prp2, data) };
}

function queueFields(cmd: Sqe): { qid: number; entries: number; contiguous: boolean } {
  return { qid: cmd.cdw10 & 0xffff, entries: (cmd.cdw10 >>> 16) + 1, contiguous: (cmd.cdw11 & 1) === 1 };
}

function createCq(ctx: ControllerContext, cmd: Sqe): Outcome {
  const { qid, entries, contiguous } = queueFields(cmd);
  const vector = cmd.cdw11 >>> 16;
  if (qid === 0 || qid > ctx.maxIoQueues || ctx.cqs[qid]) return { status: status(SC_SPECIFIC.INVALID_QID, SCT_SPECIFIC) };
  if (entries < 2 || entries > ctx.maxQueueEntries) return { status: status(SC_SPECIFIC.INVALID_QSIZE, SCT_SPECIFIC) };
  if (cmd.prp1 === 0n || cmd.prp1 % BigInt(ctx.pageSize) !== 0n) return { status: status(SC.INVALID_PRP_OFFSET) };
  if (!contiguous) return { status: status(SC.INVALID_FIELD) };
  if (vector >= ctx.vectors) return { status: status(SC_SPECIFIC.INVALID_VECTOR, SCT_SPECIFIC) };
  ctx.cqs[qid] = new CompletionQueue(qid, cmd.prp1, entries, vector, (cmd.cdw11 & 2) !== 0);
  return { status: 0 };
}

function createSq(ctx: ControllerContext, cmd: Sqe): Outcome {
  const { qid, entries, contiguous } = queueFields(cmd);
  const cqid = cmd.cdw11 >>> 16;
  if (qid === 0 || qid > ctx.maxIoQueues || ctx.sqs[qid]) return { status: status(SC_SPECIFIC.INVALID_QID, SCT_SPECIFIC) };
  if (cqid === 0 || !ctx.cqs[cqid]) return { status: status(SC_SPECIFIC.INVALID_CQ, SCT_SPECIFIC) };
  if (entries < 2 || entries > ctx.maxQueueEntries) return { status: status(SC_SPECIFIC.INVALID_QSIZE, SCT_SPECIFIC) };
  if (cmd.prp1 === 0n || cmd.prp1 % BigInt(ctx.pageSize) !== 0n) return { status: status(SC.INVALID_PRP_OFFSET) };
  if (!contiguous) return { status: status(SC.INVALID_FIELD) };
  ctx.sqs[qid] = new SubmissionQueue(qid, cmd.prp1, entries, cqid);
  return { status: 0 };
}

function deleteSq(ctx: ControllerContext, cmd: Sqe): Outcome {
  const qid = cmd.cdw10 & 0xffff;
  if (qid === 0 || !ctx.sqs[qid]) return { status: status(SC_SPECIFIC.INVALID_QID, SCT_SPECIFIC) };
  ctx.deleteSubmissionQueue(qid);
  return { status: 0 };
}

function deleteCq(ctx: ControllerContext, cmd: Sqe): Outcome {
  const qid = cmd.cdw10 & 0xffff;
  if (qid === 0 || !ctx.cqs[qid]) return { status: status(SC_SPECIFIC.INVALID_QID, SCT_SPECIFIC) };
  // A completion queue still used by a submission queue cannot go (Base §5.6, Figure 155).
  if (ctx.sqs.some((sq) => sq?.cqid === qid)) return { status: status(SC_SPECIFIC.INVALID_QUEUE_DELETION, SCT_SPECIFIC) };
  ctx.cqs[qid] = undefined;
  return { status: 0 };
}
