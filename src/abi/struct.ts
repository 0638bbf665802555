/**
 * Struct layouts as data, and the one codec that reads and writes them.
 *
 * A layout lists its fields in order; the engine computes offsets with C's natural alignment
 * (x86-64 SysV: each field aligned to its size, the struct to its widest field), or none for
 * `packed` layouts (the vfio-user wire). Integers are little-endian; 64-bit fields are bigint.
 * No other file computes a field offset by hand.
 */

export interface ScalarField<K extends "u8" | "u16" | "u32" | "i32" | "u64" | "i64"> {
  readonly kind: K;
  readonly size: number;
  readonly align: number;
}
export interface BytesField {
  readonly kind: "bytes";
  readonly size: number;
  readonly align: 1;
}
export type Field = ScalarField<"u8" | "u16" | "u32" | "i32" | "u64" | "i64"> | BytesField;

export const u8: ScalarField<"u8"> = { kind: "u8", size: 1, align: 1 };
export const u16: ScalarField<"u16"> = { kind: "u16", size: 2, align: 2 };
export const u32: ScalarField<"u32"> = { kind: "u32", size: 4, align: 4 };
export const i32: ScalarField<"i32"> = { kind: "i32", size: 4, align: 4 };
export const u64: ScalarField<"u64"> = { kind: "u64", size: 8, align: 8 };
export const i64: ScalarField<"i64"> = { kind: "i64", size: 8, align: 8 };
/** A fixed array of `size` bytes (e.g. `__u8 data[8]`). */
export const bytes = (size: number): BytesField => ({ kind: "bytes", size, align: 1 });

type Value<F extends Field> = F extends { kind: "u64" | "i64" } ? bigint : F extends { kind: "bytes" } ? Uint8Array : number;
export type Fields = Readonly<Record<string, Field>>;
/** The decoded value of a layout: u64 fields are bigint, byte arrays Uint8Array, the rest number. */
export type Infer<L> = L extends Layout<infer F> ? { -readonly [K in keyof F]: Value<F[K]> } : never;

export interface Layout<F extends Fields> {
  /** The C name, for messages and the header check: "vfio_region_info". */
  readonly name: string;
  readonly fields: F;
  readonly packed: boolean;
  /** sizeof. */
  readonly size: number;
  readonly align: number;
  /** offsetof for every field. */
  readonly offsets: { readonly [K in keyof F]: number };
  /**
   * The C member designator of every field, for the header check: the snake_case of the key
   * unless the declaration names it (e.g. "header.id" for a flattened nested struct).
   */
  readonly cFields: { readonly [K in keyof F]: string };
  /** Reads the struct at `offset` of `bytes`. Throws RangeError when it does not fit. */
  decode(bytes: Uint8Array, offset?: number): { -readonly [K in keyof F]: Value<F[K]> };
  /** Writes `value` (missing fields as zero) at `offset` of `into`, or into a new buffer of `size` bytes. */
  encode(value: Partial<{ [K in keyof F]: Value<F[K]> }>, into?: Uint8Array, offset?: number): Uint8Array;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** "numRegions" → "num_regions", "capOffset" → "cap_offset". */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Options of struct(). */
export interface StructOptions<F extends Fields> {
  /** No alignment padding (the vfio-user wire, as libvfio-user declares its structs packed). */
  readonly packed?: boolean;
  /** C member designators for fields whose C name is not the snake_case of the key. */
  readonly cNames?: Partial<{ readonly [K in keyof F]: string }>;
}

/** Declares a struct layout. Field order is declaration order, as in C. */
export function struct<F extends Fields>(name: string, fields: F, options: StructOptions<F> = {}): Layout<F> {
  const packed = options.packed ?? false;
  const cFields: Record<string, string> = {};
  for (const key of Object.keys(fields)) {
    cFields[key] = (options.cNames as Record<string, string | undefined> | undefined)?.[key] ?? snakeCase(key);
  }
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const [key, field] of Object.entries(fields)) {
    const fieldAlign = packed ? 1 : field.align;
    size = alignUp(size, fieldAlign);
    offsets[key] = size;
    size += field.size;
    align = Math.max(align, fieldAlign);
  }
  size = alignUp(size, align);
  const entries = Object.entries(fields).map(([key, field]) => [key, field, offsets[key]!] as const);

  return {
    name,
    fields,
    packed,
    size,
    align,
    offsets: offsets as { [K in keyof F]: number },
    cFields: cFields as { [K in keyof F]: string },
    decode(bytes, offset = 0) {
      if (offset < 0 || offset + size > bytes.byteLength) {
        throw new RangeError(`${name}: ${size} bytes at offset ${offset} do not fit in ${bytes.byteLength}`);
      }
      const dv = view(bytes);
      const out: Record<string, unknown> = {};
      for (const [key, field, at] of entries) {
        const o = offset + at;
        switch (field.kind) {
          case "u8": out[key] = dv.getUint8(o); break;
          case "u16": out[key] = dv.getUint16(o, true); break;
          case "u32": out[key] = dv.getUint32(o, true); break;
          case "i32": out[key] = dv.getInt32(o, true); break;
          case "u64": out[key] = dv.getBigUint64(o, true); break;
          case "i64": out[key] = dv.getBigInt64(o, true); break;
          case "bytes": out[key] = bytes.slice(o, o + field.size); break;
        }
      }
      return out as { [K in keyof F]: Value<F[K]> };
    },
    encode(value, into = new Uint8Array(size), offset = 0) {
      if (offset < 0 || offset + size > into.byteLength) {
        throw new RangeError(`${name}: ${size} bytes at offset ${offset} do not fit in ${into.byteLength}`);
      }
      const dv = view(into);
      const record = value as Record<string, unknown>;
      for (const [key, field, at] of entries) {
        const o = offset + at;
        const v = record[key];
        switch (field.kind) {
          case "u8": dv.setUint8(o, (v as number | undefined) ?? 0); break;
          case "u16": dv.setUint16(o, (v as number | undefined) ?? 0, true); break;
          case "u32": dv.setUint32(o, (v as number | undefined) ?? 0, true); break;
          case "i32": dv.setInt32(o, (v as number | undefined) ?? 0, true); break;
          case "u64": dv.setBigUint64(o, BigInt.asUintN(64, (v as bigint | undefined) ?? 0n), true); break;
          case "i64": dv.setBigInt64(o, BigInt.asIntN(64, (v as bigint | undefined) ?? 0n), true); break;
          case "bytes": {
            const src = (v as Uint8Array | undefined) ?? new Uint8Array(0);
            if (src.byteLength > field.size) throw new RangeError(`${name}.${key}: ${src.byteLength} bytes exceed ${field.size}`);
            into.fill(0, o, o + field.size);
            into.set(src, o);
            break;
          }
        }
      }
      return into;
    },
  };
}
