/**
 * VFIO capability chains (include/uapi/linux/vfio.h, "struct vfio_info_cap_header"): walk,
 * decode to api/ types, and encode byte-exact as Linux 6.1 builds them.
 *
 * A chain starts at the info struct's `cap_offset`; each header's `next` is an offset from the
 * start of the INFO buffer (not from the header), and 0 ends the chain. A `cap_offset` of 0 with
 * the CAPS flag set means the buffer was too small and the chain was left out (vfio.h, comment
 * after struct vfio_info_cap_header): the caller grows to the returned argsz (argsz.ts).
 *
 * Bounds. QEMU's vfio_get_cap (hw/vfio/helpers.c; hw/vfio/common.c before QEMU 10) follows
 * `next` with no bounds or loop check at all: it trusts the kernel. vfio-ts reads chains from
 * vfio-user peers too, so it does not follow QEMU there: every offset must leave room for a
 * header inside min(argsz, buffer length) and past the fixed info struct, every capability
 * body must fit, and an offset seen twice is a loop. Each of these is rejected with a
 * VfioProtocolError naming the field (EINVAL to a peer), never read out of bounds, never
 * ignored. Where a chain holds an id twice, the first wins, as vfio_get_cap returns the first.
 */
import type { IommuInfo, IovaRange } from "../api/container.js";
import type { RegionCap, SparseMmapArea } from "../api/device-info.js";
import { VfioProtocolError } from "../api/errors.js";
import type { Fields, Layout } from "./struct.js";
import {
  dmaAvailCapLayout,
  infoCapHeaderLayout,
  iovaRangeCapLayout,
  iovaRangeLayout,
  migrationCapLayout,
  regionTypeCapLayout,
  sparseMmapAreaLayout,
  sparseMmapCapLayout,
} from "./vfio/info-cap.js";

/** One capability found in a chain: where it is and the bytes it may occupy. */
export interface RawCap {
  readonly id: number;
  readonly version: number;
  /** Offset of its header from the start of the INFO buffer. */
  readonly offset: number;
  /** From its header up to the next capability above it, or to the end of the valid buffer. */
  readonly bytes: Uint8Array;
}

/** Where a chain lives: the INFO buffer and what its fixed struct said. */
export interface ChainSource {
  /** The whole INFO buffer, starting with the info struct. */
  readonly buffer: Uint8Array;
  /** The info struct's `cap_offset` (0: no chain, or left out because the buffer was short). */
  readonly capOffset: number;
  /** The info struct's `argsz`; the chain is read within min(argsz, buffer length). */
  readonly argsz: number;
  /** sizeof the fixed info struct: no capability may start inside it. */
  readonly infoSize: number;
}

const HEADER = infoCapHeaderLayout.size;

/**
 * Walks a capability chain, bounded as the module comment says.
 * @throws VfioProtocolError (field "cap_offset" or "next") for an offset out of bounds or a loop.
 * @example
 * const caps = walkCapChain({ buffer, capOffset: info.capOffset, argsz: info.argsz, infoSize: regionInfoLayout.size });
 */
export function walkCapChain(source: ChainSource): RawCap[] {
  const { buffer, infoSize } = source;
  const limit = Math.min(source.argsz, buffer.byteLength);
  const found: { id: number; version: number; offset: number }[] = [];
  const seen = new Set<number>();
  let offset = source.capOffset;
  let field = "cap_offset";
  while (offset !== 0) {
    if (offset < infoSize || offset + HEADER > limit) {
      throw new VfioProtocolError(
        `capability ${field} ${offset} is outside [${infoSize}, ${limit - HEADER}] of a ${limit}-byte INFO buffer`,
        field,
      );
    }
    if (seen.has(offset)) throw new VfioProtocolError(`capability chain loops back to offset ${offset}`, field);
    seen.add(offset);
    const header = infoCapHeaderLayout.decode(buffer, offset);
    found.push({ id: header.id, version: header.version, offset });
    offset = header.next;
    field = "next";
  }
  const starts = found.map((cap) => cap.offset).sort((a, b) => a - b);
  return found.map((cap) => {
    const end = starts.find((start) => start > cap.offset) ?? limit;
    return { ...cap, bytes: buffer.subarray(cap.offset, end) };
  });
}

/** Checks a capability's fixed part fits in the bytes it may occupy. */
function fixed<F extends Fields>(cap: RawCap, layout: Layout<F>): ReturnType<Layout<F>["decode"]> {
  if (cap.bytes.byteLength < layout.size) {
    throw new VfioProtocolError(
      `${layout.name} at offset ${cap.offset} needs ${layout.size} bytes, ${cap.bytes.byteLength} available`,
      "next",
    );
  }
  return layout.decode(cap.bytes);
}

/** Decodes `count` array entries of `element` after a capability's fixed part, bounds-checked. */
function entries<F extends Fields>(
  cap: RawCap, at: number, count: number, element: Layout<F>, countField: string,
): ReturnType<Layout<F>["decode"]>[] {
  if (at + count * element.size > cap.bytes.byteLength) {
    throw new VfioProtocolError(
      `${countField} ${count} at offset ${cap.offset} needs ${at + count * element.size} bytes, ${cap.bytes.byteLength} available`,
      countField,
    );
  }
  const out: ReturnType<Layout<F>["decode"]>[] = [];
  for (let i = 0; i < count; i++) out.push(element.decode(cap.bytes, at + i * element.size));
  return out;
}

/** Region capability ids (vfio.h VFIO_REGION_INFO_CAP_*), local so abi does not depend on constant values it checks. */
const CAP_SPARSE_MMAP = 1;
const CAP_TYPE = 2;
const CAP_MSIX_MAPPABLE = 3;

/** Decodes one raw region capability; unknown ids keep their bytes. */
export function decodeRegionCap(cap: RawCap): RegionCap {
  switch (cap.id) {
    case CAP_SPARSE_MMAP: {
      const head = fixed(cap, sparseMmapCapLayout);
      const areas: SparseMmapArea[] = entries(cap, sparseMmapCapLayout.size, head.nrAreas, sparseMmapAreaLayout, "nr_areas")
        .map((area) => ({ offset: area.offset, size: area.size }));
      return { id: CAP_SPARSE_MMAP, kind: "sparse-mmap", version: cap.version, areas };
    }
    case CAP_TYPE: {
      const body = fixed(cap, regionTypeCapLayout);
      return { id: CAP_TYPE, kind: "type", version: cap.version, type: body.type, subtype: body.subtype };
    }
    case CAP_MSIX_MAPPABLE:
      return { id: CAP_MSIX_MAPPABLE, kind: "msix-mappable", version: cap.version };
    default:
      return { id: cap.id, kind: "unknown", version: cap.version, bytes: cap.bytes.slice() };
  }
}

/**
 * The region capabilities of a VFIO_DEVICE_GET_REGION_INFO reply, in chain order.
 * Empty when VFIO_REGION_INFO_FLAG_CAPS is clear or `capOffset` is 0.
 */
export function decodeRegionCaps(source: ChainSource & { readonly flags: number }): RegionCap[] {
  const REGION_INFO_FLAG_CAPS = 1 << 3;
  if ((source.flags & REGION_INFO_FLAG_CAPS) === 0) return [];
  return walkCapChain(source).map(decodeRegionCap);
}

/** The capability fields of IommuInfo. */
export type IommuInfoCaps = Pick<IommuInfo, "iovaRanges" | "dmaAvailable" | "migration">;

const IOMMU_CAP_IOVA_RANGE = 1;
const IOMMU_CAP_MIGRATION = 2;
const IOMMU_CAP_DMA_AVAIL = 3;

/**
 * The capability fields of a VFIO_IOMMU_GET_INFO (type1) reply. Unknown ids are skipped; the
 * first of a repeated id wins. Empty when VFIO_IOMMU_INFO_CAPS is clear or `capOffset` is 0.
 */
export function decodeIommuCaps(source: ChainSource & { readonly flags: number }): IommuInfoCaps {
  const IOMMU_INFO_CAPS = 1 << 1;
  if ((source.flags & IOMMU_INFO_CAPS) === 0) return {};
  const out: { -readonly [K in keyof IommuInfoCaps]: IommuInfoCaps[K] } = {};
  for (const cap of walkCapChain(source)) {
    if (cap.id === IOMMU_CAP_IOVA_RANGE && out.iovaRanges === undefined) {
      const head = fixed(cap, iovaRangeCapLayout);
      out.iovaRanges = entries(cap, iovaRangeCapLayout.size, head.nrIovas, iovaRangeLayout, "nr_iovas")
        .map((r): IovaRange => ({ start: r.start, end: r.end }));
    } else if (cap.id === IOMMU_CAP_MIGRATION && out.migration === undefined) {
      const body = fixed(cap, migrationCapLayout);
      out.migration = { flags: body.flags, pgsizeBitmap: body.pgsizeBitmap, maxDirtyBitmapSize: body.maxDirtyBitmapSize };
    } else if (cap.id === IOMMU_CAP_DMA_AVAIL && out.dmaAvailable === undefined) {
      out.dmaAvailable = fixed(cap, dmaAvailCapLayout).avail;
    }
  }
  return out;
}

/** A capability to encode: its id, version and body (the bytes after the 8-byte header). */
export interface CapToEncode {
  readonly id: number;
  readonly version: number;
  readonly body: Uint8Array;
}

/**
 * Lays out a chain as the kernel does before copying it out: capabilities appended in order
 * (vfio_info_cap_add), then every `next` shifted by `base` (vfio_info_cap_shift), where `base`
 * is sizeof the info struct. The first capability is at `base`, which the caller puts in
 * `cap_offset`.
 *
 * `align` is 1 for Linux 6.1, whose vfio_info_cap_add packs capabilities end to end (so after
 * the 12-byte DMA-available cap the IOVA-range cap is not 8-byte aligned); later kernels pad each
 * to 8 ("vfio: align capability structures", 2023). Pass 8 to emulate those.
 */
export function encodeCapChain(caps: readonly CapToEncode[], base: number, align = 1): Uint8Array {
  const offsets: number[] = [];
  let size = 0;
  for (const cap of caps) {
    offsets.push(size);
    size += HEADER + cap.body.byteLength;
    size = Math.ceil(size / align) * align;
  }
  const out = new Uint8Array(size);
  caps.forEach((cap, i) => {
    const next = i + 1 < caps.length ? base + offsets[i + 1]! : 0;
    infoCapHeaderLayout.encode({ id: cap.id, version: cap.version, next }, out, offsets[i]!);
    out.set(cap.body, offsets[i]! + HEADER);
  });
  return out;
}

/** The body (after the header) of a capability layout value. */
function body<F extends Fields>(layout: Layout<F>, value: Parameters<Layout<F>["encode"]>[0], extra = 0): Uint8Array {
  const whole = new Uint8Array(layout.size + extra);
  layout.encode(value, whole);
  return whole.subarray(HEADER);
}

/** Encodes one region capability (the inverse of decodeRegionCap). */
export function encodeRegionCap(cap: RegionCap): CapToEncode {
  switch (cap.kind) {
    case "sparse-mmap": {
      const bytes = body(sparseMmapCapLayout, { nrAreas: cap.areas.length }, cap.areas.length * sparseMmapAreaLayout.size);
      cap.areas.forEach((area, i) =>
        sparseMmapAreaLayout.encode(area, bytes, sparseMmapCapLayout.size - HEADER + i * sparseMmapAreaLayout.size));
      return { id: CAP_SPARSE_MMAP, version: cap.version, body: bytes };
    }
    case "type":
      return { id: CAP_TYPE, version: cap.version, body: body(regionTypeCapLayout, { type: cap.type, subtype: cap.subtype }) };
    case "msix-mappable":
      return { id: CAP_MSIX_MAPPABLE, version: cap.version, body: new Uint8Array(0) };
    case "unknown":
      return { id: cap.id, version: cap.version, body: cap.bytes.subarray(HEADER) };
  }
}

/**
 * Encodes the IOMMU capabilities present in `info`, in the order Linux 6.1's
 * vfio_iommu_type1_get_info builds them: migration, DMA available, IOVA ranges. Version 1 each.
 */
export function encodeIommuCaps(info: IommuInfoCaps): CapToEncode[] {
  const caps: CapToEncode[] = [];
  if (info.migration) {
    caps.push({ id: IOMMU_CAP_MIGRATION, version: 1, body: body(migrationCapLayout, info.migration) });
  }
  if (info.dmaAvailable !== undefined) {
    caps.push({ id: IOMMU_CAP_DMA_AVAIL, version: 1, body: body(dmaAvailCapLayout, { avail: info.dmaAvailable }) });
  }
  if (info.iovaRanges) {
    const ranges = info.iovaRanges;
    const bytes = body(iovaRangeCapLayout, { nrIovas: ranges.length }, ranges.length * iovaRangeLayout.size);
    ranges.forEach((range, i) => iovaRangeLayout.encode(range, bytes, iovaRangeCapLayout.size - HEADER + i * iovaRangeLayout.size));
    caps.push({ id: IOMMU_CAP_IOVA_RANGE, version: 1, body: bytes });
  }
  return caps;
}
