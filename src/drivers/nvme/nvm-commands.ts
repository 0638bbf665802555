/**
 * The NVM command set's I/O commands as NvmeCommand values (NVM Command Set Specification 1.0,
 * §3.2 and §3.3): Read, Write, Flush, Write Zeroes, Dataset Management. The LBA range is in
 * CDW10 (SLBA 31:00), CDW11 (SLBA 63:32) and CDW12 (NLB 15:00, zero-based).
 */
import { NVM, type NvmeCommand } from "./command.js";

/** The most blocks one command moves: NLB is a 16-bit zero-based field. */
export const MAX_BLOCKS_PER_COMMAND = 0x10000;

function lbaFields(lba: bigint, blocks: number): { cdw10: number; cdw11: number; cdw12: number } {
  return { cdw10: Number(lba & 0xffffffffn), cdw11: Number((lba >> 32n) & 0xffffffffn), cdw12: (blocks - 1) & 0xffff };
}

/** Read (NVM §3.3.4): `blocks` LBAs from `lba` into `length` bytes at `iova`. */
export function readCommand(nsid: number, lba: bigint, blocks: number, iova: bigint, length: number): NvmeCommand {
  return { opcode: NVM.READ, name: "Read", nsid, ...lbaFields(lba, blocks), data: { iova, length } };
}

/** Write (NVM §3.3.6). */
export function writeCommand(nsid: number, lba: bigint, blocks: number, iova: bigint, length: number): NvmeCommand {
  return { opcode: NVM.WRITE, name: "Write", nsid, ...lbaFields(lba, blocks), data: { iova, length } };
}

/** Flush (Base Specification 2.0 §7.1): commits the volatile write cache of namespace `nsid`. */
export function flushCommand(nsid: number): NvmeCommand {
  return { opcode: NVM.FLUSH, name: "Flush", nsid };
}

/** Write Zeroes (NVM §3.3.7): CDW12 bit 25 DEAC asks the controller to deallocate as well. */
export function writeZeroesCommand(nsid: number, lba: bigint, blocks: number, deallocate = false): NvmeCommand {
  const fields = lbaFields(lba, blocks);
  return { opcode: NVM.WRITE_ZEROES, name: "Write Zeroes", nsid, ...fields, cdw12: fields.cdw12 | (deallocate ? 1 << 25 : 0) };
}

/**
 * Dataset Management (NVM §3.3.3): CDW10 NR 07:00 (ranges, zero-based), CDW11 AD bit 2
 * (deallocate); the data is the range list, 16 bytes a range (Figure 33: context attributes,
 * length in LBAs, starting LBA).
 */
export function deallocateCommand(nsid: number, ranges: number, iova: bigint): NvmeCommand {
  return { opcode: NVM.DATASET_MANAGEMENT, name: "Dataset Management", nsid, cdw10: (ranges - 1) & 0xff, cdw11: 1 << 2, data: { iova, length: ranges * 16 } };
}

/** Writes the Dataset Management range list (Figure 33) into `bytes`. */
export function writeRanges(bytes: Uint8Array, ranges: readonly { readonly lba: bigint; readonly blocks: number }[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, ranges.length * 16);
  ranges.forEach((range, i) => {
    view.setUint32(i * 16, 0, true);
    view.setUint32(i * 16 + 4, range.blocks, true);
    view.setBigUint64(i * 16 + 8, range.lba, true);
  });
}
