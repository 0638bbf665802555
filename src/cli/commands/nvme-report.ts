/**
 * What `vfio nvme identify` and `vfio nvme read` print: the controller and namespace identity
 * as data (the --json output) and as text, and a hex dump of blocks read (as `xxd` shows them).
 */
import type { NvmeController } from "../../drivers/nvme/index.js";
import { formatBytes, hexDigits } from "../format.js";
import { formatTable } from "../style.js";

export interface IdentifyReport {
  readonly device: string;
  readonly vendorId: string;
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  /** VS register, e.g. "1.4.0". */
  readonly version: string;
  readonly maxTransferBytes: number;
  readonly maxQueueEntries: number;
  readonly doorbellStride: number;
  readonly oncs: number;
  readonly volatileWriteCache: boolean;
  readonly subsystemNqn: string;
  readonly completion: string;
  readonly namespaces: readonly {
    readonly nsid: number;
    /** Decimal strings: 64-bit values do not fit JSON numbers. */
    readonly blocks: string;
    readonly blockSize: number;
    readonly bytes: string;
    readonly formatIndex: number;
    readonly formats: readonly { readonly dataSize: number; readonly metadataSize: number }[];
  }[];
}

export function identifyReport(controller: NvmeController): IdentifyReport {
  const id = controller.identity;
  return {
    device: controller.name,
    vendorId: hexDigits(id.vendorId, 4),
    serial: id.serial,
    model: id.model,
    firmware: id.firmware,
    version: controller.version,
    maxTransferBytes: controller.maxTransferBytes,
    maxQueueEntries: controller.capabilities.maxQueueEntries,
    doorbellStride: controller.capabilities.doorbellStride,
    oncs: id.oncs,
    volatileWriteCache: id.volatileWriteCache,
    subsystemNqn: id.subsystemNqn,
    completion: controller.completion,
    namespaces: controller.namespaces.map((ns) => ({
      nsid: ns.nsid,
      blocks: String(ns.blockCount),
      blockSize: ns.blockSize,
      bytes: String(ns.bytes),
      formatIndex: ns.identity.formatIndex,
      formats: ns.identity.lbaFormats.map((f) => ({ dataSize: f.dataSize, metadataSize: f.metadataSize })),
    })),
  };
}

export function renderIdentify(r: IdentifyReport): string {
  const lines = [
    `${r.device}: ${r.model}, serial ${r.serial}, firmware ${r.firmware}, NVMe ${r.version}`,
    `vendor ${r.vendorId}, max transfer ${formatBytes(BigInt(r.maxTransferBytes))}, queues up to ${r.maxQueueEntries} entries, doorbell stride ${r.doorbellStride}`,
    `optional commands (ONCS 0x${r.oncs.toString(16)}), volatile write cache ${r.volatileWriteCache ? "present" : "absent"}, completions by ${r.completion}`,
    `subsystem ${r.subsystemNqn}`,
    "",
    `namespaces (${r.namespaces.length}):`,
    formatTable([
      ["  nsid", "blocks", "block size", "size", "format"],
      ...r.namespaces.map((ns) => {
        const f = ns.formats[ns.formatIndex];
        return [`  ${ns.nsid}`, ns.blocks, `${ns.blockSize}`, formatBytes(BigInt(ns.bytes)), `${ns.formatIndex} (${f?.dataSize ?? "?"}+${f?.metadataSize ?? "?"})`];
      }),
    ]),
    "",
  ];
  return lines.join("\n");
}

/** A hex dump, 16 bytes a line with the byte offset in the namespace and the printable ASCII. */
export function nvmeReadOutput(data: Uint8Array, startByte: number): string {
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 16) {
    const row = data.subarray(i, i + 16);
    const hexes = Array.from(row, (b) => hexDigits(b, 2));
    const pairs: string[] = [];
    for (let j = 0; j < hexes.length; j += 2) pairs.push(hexes.slice(j, j + 2).join(""));
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    out.push(`${hexDigits(startByte + i, 8)}: ${pairs.join(" ").padEnd(39)}  ${text}`);
  }
  return `${out.join("\n")}\n`;
}

