/**
 * The controller's side of PRPs (Base §4.1.1): PRP1/PRP2 and PRP lists turned into the memory
 * segments of one transfer, as QEMU's nvme_map_prp walks them: PRP2 must be page aligned when
 * it is the second page, list entries must have offset zero (else Invalid PRP Offset), the
 * last entry of a list page chains to the next page, and a list that cannot be read (a DMA
 * fault) is a Data Transfer Error. PRP1 may carry any offset.
 */
import { DmaFaultError, type DeviceHost } from "../../api/hosting.js";
import { SC, status } from "./spec.js";

export interface Segment {
  readonly address: bigint;
  readonly length: number;
}

/** The segments, or a status field when the PRPs are invalid. */
export async function walkPrps(host: DeviceHost, prp1: bigint, prp2: bigint, length: number, pageSize: number): Promise<Segment[] | number> {
  const page = BigInt(pageSize);
  const first = Math.min(length, pageSize - Number(prp1 % page));
  const segments: Segment[] = [{ address: prp1, length: first }];
  let remaining = length - first;
  if (remaining === 0) return segments;
  if (remaining <= pageSize) {
    if (prp2 % page !== 0n) return status(SC.INVALID_PRP_OFFSET);
    segments.push({ address: prp2, length: remaining });
    return segments;
  }
  let list = prp2;
  while (remaining > 0) {
    // Entries from `list` to the end of its page (a list pointer may carry an offset).
    const inPage = Number((page - (list % page)) / 8n);
    const needed = Math.ceil(remaining / pageSize);
    const count = Math.min(inPage, needed);
    let bytes: Uint8Array;
    try {
      bytes = await host.dmaRead(list, count * 8);
    } catch (error) {
      if (error instanceof DmaFaultError) return status(SC.DATA_TRANSFER_ERROR);
      throw error;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < count; i++) {
      const entry = view.getBigUint64(i * 8, true);
      if (i === count - 1 && needed > inPage) {
        list = entry; // chain to the next list page
        break;
      }
      if (entry % page !== 0n) return status(SC.INVALID_PRP_OFFSET);
      const n = Math.min(remaining, pageSize);
      segments.push({ address: entry, length: n });
      remaining -= n;
    }
  }
  return segments;
}
