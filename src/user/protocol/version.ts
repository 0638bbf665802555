/**
 * VERSION negotiation (vfio-user spec §"Version"; VFIO-USER.md §3): the capabilities JSON,
 * parsed strictly (a peer's JSON is untrusted input) and formatted the way libvfio-user
 * formats it.
 */
import { VfioProtocolError } from "../../api/errors.js";
import {
  VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE, VFIO_USER_DEFAULT_MAX_DMA_MAPS, VFIO_USER_DEFAULT_MAX_MSG_FDS, VFIO_USER_DEFAULT_PGSIZES,
} from "../../abi/vfio-user/header.js";
import { versionLayout } from "../../abi/vfio-user/messages.js";

/** The protocol version this implementation speaks (libvfio-user's: 0.2). */
export const VFIO_USER_MAJOR = 0;
export const VFIO_USER_MINOR = 2;
/** libvfio-user accepts client max_msg_fds up to 1024 (lib/tran.c). */
export const MAX_MSG_FDS_LIMIT = 1024;
/** Largest JSON accepted: the capability object is small; refuse anything absurd. */
export const MAX_VERSION_JSON = 4096;

/** The capabilities one side advertises. Absent keys take the spec defaults. */
export interface Capabilities {
  readonly maxMsgFds: number;
  readonly maxDataXferSize: number;
  readonly maxDmaMaps: number;
  readonly pgsizes: bigint;
  /** twin_socket.supported; fdIndex only in a reply. */
  readonly twinSocket?: { readonly supported: boolean; readonly fdIndex?: number };
  readonly writeMultiple: boolean;
  /** Legacy migration.pgsize, kept when a peer sends it. */
  readonly migrationPgsize?: number;
}

export const defaultCapabilities: Capabilities = {
  maxMsgFds: VFIO_USER_DEFAULT_MAX_MSG_FDS,
  maxDataXferSize: VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE,
  maxDmaMaps: VFIO_USER_DEFAULT_MAX_DMA_MAPS,
  pgsizes: VFIO_USER_DEFAULT_PGSIZES,
  writeMultiple: false,
};

export interface VersionMessage {
  readonly major: number;
  readonly minor: number;
  readonly capabilities: Capabilities;
}

function bad(message: string, field: string): VfioProtocolError {
  return new VfioProtocolError(`VERSION: ${message}`, field);
}

function positiveInteger(value: unknown, field: string, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw bad(`${field} must be an integer in [0, ${max}], not ${JSON.stringify(value)}`, field);
  }
  return value;
}

/** Parses a VERSION payload (request or reply). Throws VfioProtocolError (EINVAL) when malformed. */
export function parseVersion(payload: Uint8Array): VersionMessage {
  if (payload.byteLength < versionLayout.size) throw bad(`payload of ${payload.byteLength} bytes is shorter than major+minor`, "msg_size");
  const { major, minor } = versionLayout.decode(payload);
  const rest = payload.subarray(versionLayout.size);
  if (rest.byteLength === 0) return { major, minor, capabilities: defaultCapabilities };
  if (rest.byteLength > MAX_VERSION_JSON) throw bad(`JSON of ${rest.byteLength} bytes is too long`, "data");
  // The JSON is NUL-terminated and the NUL counted in msg_size (spec §"Version").
  const nul = rest.indexOf(0);
  if (nul !== rest.byteLength - 1) throw bad("JSON is not NUL-terminated at the end of the message", "data");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(rest.subarray(0, nul)));
  } catch {
    throw bad("JSON does not parse", "data");
  }
  return { major, minor, capabilities: parseCapabilities(json) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads `{"capabilities": {...}}`. Unknown keys are ignored, as libvfio-user ignores them. */
export function parseCapabilities(json: unknown): Capabilities {
  if (!isObject(json)) throw bad("JSON is not an object", "data");
  const caps = json["capabilities"];
  if (caps === undefined) return defaultCapabilities;
  if (!isObject(caps)) throw bad("capabilities is not an object", "capabilities");
  let out: Capabilities = { ...defaultCapabilities };
  if (caps["max_msg_fds"] !== undefined) out = { ...out, maxMsgFds: positiveInteger(caps["max_msg_fds"], "max_msg_fds", MAX_MSG_FDS_LIMIT) };
  if (caps["max_data_xfer_size"] !== undefined) {
    const v = positiveInteger(caps["max_data_xfer_size"], "max_data_xfer_size", 2 ** 32 - 1);
    if (v === 0) throw bad("max_data_xfer_size must not be 0", "max_data_xfer_size");
    out = { ...out, maxDataXferSize: v };
  }
  if (caps["max_dma_maps"] !== undefined) out = { ...out, maxDmaMaps: positiveInteger(caps["max_dma_maps"], "max_dma_maps", 2 ** 32 - 1) };
  if (caps["pgsizes"] !== undefined) {
    const v = positiveInteger(caps["pgsizes"], "pgsizes", Number.MAX_SAFE_INTEGER);
    if (v === 0) throw bad("pgsizes must not be 0", "pgsizes");
    out = { ...out, pgsizes: BigInt(v) };
  }
  if (caps["write_multiple"] !== undefined) {
    if (typeof caps["write_multiple"] !== "boolean") throw bad("write_multiple is not a boolean", "write_multiple");
    out = { ...out, writeMultiple: caps["write_multiple"] };
  }
  const twin = caps["twin_socket"];
  if (twin !== undefined) {
    if (!isObject(twin) || typeof twin["supported"] !== "boolean") throw bad("twin_socket.supported is not a boolean", "twin_socket");
    const fdIndex = twin["fd_index"] === undefined ? undefined : positiveInteger(twin["fd_index"], "twin_socket.fd_index", MAX_MSG_FDS_LIMIT);
    out = { ...out, twinSocket: { supported: twin["supported"], ...(fdIndex !== undefined ? { fdIndex } : {}) } };
  }
  const migration = caps["migration"];
  if (migration !== undefined) {
    if (!isObject(migration)) throw bad("migration is not an object", "migration");
    if (migration["pgsize"] !== undefined) out = { ...out, migrationPgsize: positiveInteger(migration["pgsize"], "migration.pgsize", 2 ** 32 - 1) };
  }
  return out;
}

/** The JSON text of a capability set; only keys that differ from the defaults, or are asked for. */
export function formatCapabilities(caps: Partial<Capabilities>): string {
  const out: Record<string, unknown> = {};
  if (caps.maxMsgFds !== undefined) out["max_msg_fds"] = caps.maxMsgFds;
  if (caps.maxDataXferSize !== undefined) out["max_data_xfer_size"] = caps.maxDataXferSize;
  if (caps.maxDmaMaps !== undefined) out["max_dma_maps"] = caps.maxDmaMaps;
  if (caps.pgsizes !== undefined) out["pgsizes"] = Number(caps.pgsizes);
  if (caps.twinSocket !== undefined) {
    out["twin_socket"] = { supported: caps.twinSocket.supported, ...(caps.twinSocket.fdIndex !== undefined ? { fd_index: caps.twinSocket.fdIndex } : {}) };
  }
  if (caps.writeMultiple !== undefined) out["write_multiple"] = caps.writeMultiple;
  if (caps.migrationPgsize !== undefined) out["migration"] = { pgsize: caps.migrationPgsize };
  return JSON.stringify({ capabilities: out });
}

/** A VERSION payload: major, minor, JSON, NUL. */
export function encodeVersion(major: number, minor: number, caps: Partial<Capabilities>): Uint8Array {
  const json = new TextEncoder().encode(formatCapabilities(caps));
  const out = new Uint8Array(versionLayout.size + json.byteLength + 1);
  versionLayout.encode({ major, minor }, out);
  out.set(json, versionLayout.size);
  return out;
}
