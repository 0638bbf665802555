/**
 * The DMA memory of one queue pair: the two rings (physically contiguous, CC.IOSQES/IOCQES
 * sized entries; NVMe Base Specification 2.0 §3.3.1) and a PRP list area per command slot
 * (§4.1.1). List areas are a power of two in size, at most a page, carved from one buffer, so
 * none crosses a page boundary (a PRP list pointer may carry an offset; the list then runs to
 * the end of that page).
 */
import type { DmaBuffer } from "../../api/dma-space.js";
import { CQE_BYTES, SQE_BYTES } from "./command.js";
import type { PrpListArea } from "./prp.js";
import type { QueuePairMemory } from "./queue-pair.js";

/** PRP list entries a transfer of up to `maxTransfer` bytes can need, wherever it starts: ceil(max / page). */
export function listEntriesFor(maxTransfer: number, pageSize: number): number {
  return Math.ceil(maxTransfer / pageSize);
}

export interface AllocatedQueueMemory extends QueuePairMemory {
  readonly listBuffer: DmaBuffer | undefined;
}

/**
 * Allocates rings of `entries` entries and, where `listEntries` > 1, one list area per command
 * slot (entries - 1 of them). A transfer needing a single list entry still needs the list
 * (PRP2 then points at it), so any `listEntries` ≥ 1 gets areas. Frees what it allocated if a
 * later allocation fails.
 */
export async function allocateQueueMemory(allocate: (size: number) => Promise<DmaBuffer>, entries: number, listEntries: number): Promise<AllocatedQueueMemory> {
  const made: DmaBuffer[] = [];
  try {
    const sq = await allocate(entries * SQE_BYTES);
    made.push(sq);
    const cq = await allocate(entries * CQE_BYTES);
    made.push(cq);
    let listBuffer: DmaBuffer | undefined;
    const prpLists: PrpListArea[] = [];
    if (listEntries > 0) {
      const areaBytes = Math.min(4096, 2 ** Math.ceil(Math.log2(Math.max(8, listEntries * 8))));
      const slots = entries - 1;
      listBuffer = await allocate(slots * areaBytes);
      made.push(listBuffer);
      const bytes = listBuffer.bytes;
      for (let i = 0; i < slots; i++) {
        prpLists.push({
          iova: listBuffer.iova + BigInt(i * areaBytes),
          entries: new BigUint64Array(bytes.buffer, bytes.byteOffset + i * areaBytes, Math.min(listEntries, areaBytes / 8)),
        });
      }
    }
    return { sq, cq, prpLists, listBuffer };
  } catch (error) {
    for (const b of made) await b.free().catch(() => undefined);
    throw error;
  }
}
