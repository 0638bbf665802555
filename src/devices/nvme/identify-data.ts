/**
 * The Identify data structures the model returns (Base §5.17.2.1 Figure 275, §5.17.2.2; NVM
 * Command Set §4.1.5.1 Figure 97), with QEMU 7.2's values where a field is not configurable.
 */
import { ONCS } from "./spec.js";

export interface ControllerConfig {
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  readonly mdts: number;
  /** Highest NSID (NN). */
  readonly namespaceCount: number;
}

export interface NamespaceConfig {
  readonly nsid: number;
  readonly blocks: bigint;
  readonly blockSize: number;
}

function ascii(out: Uint8Array, start: number, length: number, text: string): void {
  out.fill(0x20, start, start + length);
  for (let i = 0; i < Math.min(length, text.length); i++) out[start + i] = text.charCodeAt(i) & 0x7f;
}

export function identifyController(c: ControllerConfig): Uint8Array {
  const out = new Uint8Array(4096);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0x1b36, true); // VID: Red Hat, as QEMU
  v.setUint16(2, 0x1af4, true); // SSVID
  ascii(out, 4, 20, c.serial);
  ascii(out, 24, 40, c.model);
  ascii(out, 64, 8, c.firmware);
  out[72] = 6; // RAB
  out[73] = 0x00; out[74] = 0x54; out[75] = 0x52; // IEEE OUI as QEMU (52:54:00)
  out[77] = c.mdts;
  v.setUint16(78, 0, true); // CNTLID
  v.setUint32(80, 0x00010400, true); // VER 1.4.0
  out[512] = 0x66; // SQES: 64 bytes required and maximum
  out[513] = 0x44; // CQES: 16 bytes
  v.setUint16(514, 0, true); // MAXCMD
  v.setUint32(516, c.namespaceCount, true);
  v.setUint16(520, ONCS, true);
  out[525] = 0; // VWC: none (every write reaches the store before it completes)
  ascii(out, 768, 256, `nqn.2019-08.org.qemu:${c.serial}`);
  out.fill(0, 768 + 21 + c.serial.length, 1024);
  return out;
}

export function identifyNamespace(ns: NamespaceConfig): Uint8Array {
  const out = new Uint8Array(4096);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, ns.blocks, true); // NSZE
  v.setBigUint64(8, ns.blocks, true); // NCAP
  v.setBigUint64(16, ns.blocks, true); // NUSE
  out[25] = 0; // NLBAF: one format
  out[26] = 0; // FLBAS: format 0
  out[33] = 1; // DLFEAT: deallocated blocks read as zeros
  v.setUint32(128, Math.log2(ns.blockSize) << 16, true); // LBAF0: LBADS, no metadata
  return out;
}

/** Active namespace IDs greater than `after`, ascending, up to 1024 (CNS 02h). */
export function activeNamespaceList(nsids: readonly number[], after: number): Uint8Array {
  const out = new Uint8Array(4096);
  const v = new DataView(out.buffer);
  nsids.filter((id) => id > after).sort((a, b) => a - b).slice(0, 1024).forEach((id, i) => v.setUint32(4 * i, id, true));
  return out;
}
