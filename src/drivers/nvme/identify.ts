/**
 * The Identify data structures the driver reads (NVMe Base Specification 2.0, §5.17.2.1
 * "Identify Controller data structure", Figure 275; NVM Command Set Specification 1.0, §4.1.5.1
 * "Identify Namespace data structure", Figure 97). Decoded from the 4096 bytes the controller
 * wrote; every field is bounded by the structure, so hostile bytes give odd values, not a crash.
 */

/** ONCS bits: Optional NVM Command Support (Figure 275, bytes 521:520). */
export const ONCS_COMPARE = 1 << 0;
export const ONCS_DATASET_MANAGEMENT = 1 << 2;
export const ONCS_WRITE_ZEROES = 1 << 3;

export interface ControllerIdentity {
  /** PCI Vendor ID and Subsystem Vendor ID (bytes 01:00, 03:02). */
  readonly vendorId: number;
  readonly subsystemVendorId: number;
  /** Serial Number, Model Number, Firmware Revision: ASCII, trailing spaces removed (bytes 23:04, 63:24, 71:64). */
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  /** Maximum Data Transfer Size: 2^MDTS units of CAP.MPSMIN; 0 = no limit (byte 77). */
  readonly mdts: number;
  /** Controller ID (bytes 79:78). */
  readonly controllerId: number;
  /** Version (bytes 83:80), as VS. */
  readonly version: number;
  /** Submission / Completion Queue Entry Size, required and maximum, log2 (bytes 512, 513). */
  readonly sqes: { readonly required: number; readonly maximum: number };
  readonly cqes: { readonly required: number; readonly maximum: number };
  /** Number of Namespaces: the highest valid NSID (bytes 519:516). */
  readonly namespaceCount: number;
  /** Optional NVM Command Support (bytes 521:520). */
  readonly oncs: number;
  /** Volatile Write Cache present (byte 525 bit 0). */
  readonly volatileWriteCache: boolean;
  /** NVM Subsystem NVMe Qualified Name (bytes 1023:768). */
  readonly subsystemNqn: string;
}

export interface LbaFormat {
  /** Metadata bytes per LBA. */
  readonly metadataSize: number;
  /** LBA data size in bytes (2^LBADS). */
  readonly dataSize: number;
  /** Relative Performance, 0 (best) to 3. */
  readonly relativePerformance: number;
}

export interface NamespaceIdentity {
  readonly nsid: number;
  /** Namespace Size, Capacity, Utilization, in LBAs (bytes 07:00, 15:08, 23:16). */
  readonly size: bigint;
  readonly capacity: bigint;
  readonly utilization: bigint;
  /** Every LBA format the namespace offers (NLBAF + 1 of them, bytes 128 on). */
  readonly lbaFormats: readonly LbaFormat[];
  /** Index of the format in use (FLBAS bits 3:0, and 6:5 as bits 5:4 of the index). */
  readonly formatIndex: number;
  /** The format in use. */
  readonly lbaFormat: LbaFormat;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    text += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return text.trimEnd();
}

export function decodeControllerIdentity(data: Uint8Array): ControllerIdentity {
  const view = new DataView(data.buffer, data.byteOffset, 4096);
  return {
    vendorId: view.getUint16(0, true),
    subsystemVendorId: view.getUint16(2, true),
    serial: ascii(data, 4, 24),
    model: ascii(data, 24, 64),
    firmware: ascii(data, 64, 72),
    mdts: data[77]!,
    controllerId: view.getUint16(78, true),
    version: view.getUint32(80, true),
    sqes: { required: data[512]! & 0xf, maximum: data[512]! >>> 4 },
    cqes: { required: data[513]! & 0xf, maximum: data[513]! >>> 4 },
    namespaceCount: view.getUint32(516, true),
    oncs: view.getUint16(520, true),
    volatileWriteCache: (data[525]! & 1) === 1,
    subsystemNqn: ascii(data, 768, 1024),
  };
}

/** Undefined for an inactive namespace: the controller returns zeros for it (Base §3.2.1.4). */
export function decodeNamespaceIdentity(nsid: number, data: Uint8Array): NamespaceIdentity | undefined {
  const view = new DataView(data.buffer, data.byteOffset, 4096);
  const size = view.getBigUint64(0, true);
  if (size === 0n) return undefined;
  const count = data[25]! + 1;
  const lbaFormats: LbaFormat[] = [];
  for (let i = 0; i < count && i < 64; i++) {
    const dword = view.getUint32(128 + 4 * i, true);
    lbaFormats.push({ metadataSize: dword & 0xffff, dataSize: 2 ** ((dword >>> 16) & 0xff), relativePerformance: (dword >>> 24) & 3 });
  }
  const flbas = data[26]!;
  const formatIndex = (flbas & 0xf) | (((flbas >>> 5) & 3) << 4);
  const lbaFormat = lbaFormats[formatIndex] ?? { metadataSize: 0, dataSize: 0, relativePerformance: 0 };
  return {
    nsid,
    size,
    capacity: view.getBigUint64(8, true),
    utilization: view.getBigUint64(16, true),
    lbaFormats,
    formatIndex,
    lbaFormat,
  };
}

/** The Active Namespace ID list (CNS 02h, §5.17.2.2): ascending NSIDs, ended by a zero. */
export function decodeNamespaceList(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, 4096);
  const ids: number[] = [];
  for (let i = 0; i < 1024; i++) {
    const id = view.getUint32(4 * i, true);
    if (id === 0) break;
    ids.push(id);
  }
  return ids;
}
