/**
 * Physical Region Page entries for one transfer (NVMe Base Specification 2.0, §4.1.1 "Physical
 * Region Page Entry and List", Figures 84–86).
 *
 * PRP1 points at the first byte and may carry an offset inside its page (dword aligned: bits
 * 1:0 are zero). If the transfer ends in the page after PRP1's, PRP2 is that page's address;
 * if it reaches further, PRP2 points at a PRP list whose entries are the following pages, each
 * with offset zero. A list that fits in one memory page needs no chaining; the driver sizes
 * its lists so that every transfer up to its maximum fits one list (see maxListEntries).
 */

/** A PRP list area the driver owns for one command slot: its IOVA and a 64-bit view of it. */
export interface PrpListArea {
  readonly iova: bigint;
  readonly entries: BigUint64Array;
}

export interface Prps {
  readonly prp1: bigint;
  readonly prp2: bigint;
  /** How many entries of the list area were used (0: no list). */
  readonly listEntries: number;
}

/** Pages a transfer of `length` bytes at `iova` touches. */
export function pagesSpanned(iova: bigint, length: number, pageSize: number): number {
  const offset = Number(iova % BigInt(pageSize));
  return Math.ceil((offset + length) / pageSize);
}

/**
 * The longest transfer whose list fits `listEntries` entries wherever the buffer starts:
 * one page for PRP1 (which may begin at the page's last dword) plus one per list entry, less
 * the partial first page.
 */
export function maxTransferForList(listEntries: number, pageSize: number): number {
  return listEntries * pageSize;
}

/**
 * Builds PRP1/PRP2 for `length` bytes at `iova`, writing list entries into `list` where the
 * transfer spans more than two pages. Throws RangeError for a misaligned start or a transfer
 * the list cannot hold: the callers check both, so this is a driver bug, never the user's.
 */
export function buildPrps(iova: bigint, length: number, pageSize: number, list: PrpListArea | undefined): Prps {
  if ((iova & 3n) !== 0n) throw new RangeError(`PRP1 0x${iova.toString(16)} is not dword aligned (§4.1.1)`);
  if (length <= 0) return { prp1: iova, prp2: 0n, listEntries: 0 };
  const page = BigInt(pageSize);
  const firstPageEnd = iova - (iova % page) + page;
  const end = iova + BigInt(length);
  if (end <= firstPageEnd) return { prp1: iova, prp2: 0n, listEntries: 0 };
  if (end <= firstPageEnd + page) return { prp1: iova, prp2: firstPageEnd, listEntries: 0 };
  const count = Number((end - firstPageEnd + page - 1n) / page);
  if (!list || count > list.entries.length) {
    throw new RangeError(`a ${length}-byte transfer needs ${count} PRP list entries; the list holds ${list?.entries.length ?? 0}`);
  }
  let address = firstPageEnd;
  for (let i = 0; i < count; i++, address += page) list.entries[i] = address;
  return { prp1: iova, prp2: list.iova, listEntries: count };
}
