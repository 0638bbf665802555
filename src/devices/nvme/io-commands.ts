/**
 * The NVM command set the model implements (NVM Command Set Specification 1.0 §3): Read,
 * Write, Flush, Write Zeroes, Dataset Management (deallocate: the blocks read as zeros,
 * DLFEAT 001b), with QEMU 7.2's checks in its order (hw/nvme/ctrl.c nvme_io_cmd, nvme_rw:
 * namespace, then MDTS, then LBA range).
 */
import type { ControllerContext, ModelNamespace } from "./context.js";
import { NVM, SC, status, type Outcome, type Sqe } from "./spec.js";

export async function executeIo(ctx: ControllerContext, cmd: Sqe): Promise<Outcome> {
  if (cmd.nsid === 0 || (cmd.nsid > ctx.config.namespaceCount && cmd.nsid !== 0xffffffff)) return { status: status(SC.INVALID_NAMESPACE) };
  const ns = ctx.namespaces.get(cmd.nsid);
  if (!ns) return { status: status(SC.INVALID_FIELD) };
  switch (cmd.opcode) {
    case NVM.FLUSH:
      ns.store.flush();
      return { status: 0 };
    case NVM.READ:
    case NVM.WRITE:
      return readWrite(ctx, ns, cmd);
    case NVM.WRITE_ZEROES: {
      const range = lbaRange(ns, cmd);
      if (typeof range === "number") return { status: range };
      ns.store.write(range.offset, new Uint8Array(range.length));
      return { status: 0 };
    }
    case NVM.DSM:
      return deallocate(ctx, ns, cmd);
    default:
      return { status: status(SC.INVALID_OPCODE) };
  }
}

function lbaRange(ns: ModelNamespace, cmd: Sqe): { offset: number; length: number } | number {
  const lba = BigInt(cmd.cdw10) | (BigInt(cmd.cdw11) << 32n);
  const blocks = (cmd.cdw12 & 0xffff) + 1;
  if (lba + BigInt(blocks) > ns.config.blocks) return status(SC.LBA_OUT_OF_RANGE);
  return { offset: Number(lba) * ns.config.blockSize, length: blocks * ns.config.blockSize };
}

async function readWrite(ctx: ControllerContext, ns: ModelNamespace, cmd: Sqe): Promise<Outcome> {
  const length = ((cmd.cdw12 & 0xffff) + 1) * ns.config.blockSize;
  if (length > ctx.maxTransfer) return { status: status(SC.INVALID_FIELD) };
  const range = lbaRange(ns, cmd);
  if (typeof range === "number") return { status: range };
  if (cmd.opcode === NVM.READ) return { status: await ctx.writeData(cmd.prp1, cmd.prp2, ns.store.read(range.offset, range.length)) };
  const data = await ctx.readData(cmd.prp1, cmd.prp2, length);
  if (typeof data === "number") return { status: data };
  ns.store.write(range.offset, data);
  return { status: 0 };
}

async function deallocate(ctx: ControllerContext, ns: ModelNamespace, cmd: Sqe): Promise<Outcome> {
  const ranges = (cmd.cdw10 & 0xff) + 1;
  if ((cmd.cdw11 & 4) === 0) return { status: 0 }; // only the deallocate attribute does anything
  const list = await ctx.readData(cmd.prp1, cmd.prp2, ranges * 16);
  if (typeof list === "number") return { status: list };
  const v = new DataView(list.buffer, list.byteOffset, list.length);
  for (let i = 0; i < ranges; i++) {
    const blocks = v.getUint32(i * 16 + 4, true);
    const lba = v.getBigUint64(i * 16 + 8, true);
    if (lba + BigInt(blocks) > ns.config.blocks) return { status: status(SC.LBA_OUT_OF_RANGE) };
  }
  for (let i = 0; i < ranges; i++) {
    const blocks = v.getUint32(i * 16 + 4, true);
    const lba = Number(v.getBigUint64(i * 16 + 8, true));
    if (blocks > 0) ns.store.write(lba * ns.config.blockSize, new Uint8Array(blocks * ns.config.blockSize));
  }
  return { status: 0 };
}
