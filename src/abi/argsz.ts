/**
 * The "call with argsz, grow to the returned argsz, retry" dance of VFIO INFO ioctls, written
 * once (QEMU does it in vfio_get_region_info and vfio_get_iommu_info; vfio.h explains it after
 * struct vfio_info_cap_header): the caller passes a buffer whose leading `__u32 argsz` says its
 * size; when a capability chain does not fit, the kernel still succeeds but writes the size it
 * needs into `argsz` and leaves `cap_offset` 0. The caller then retries with that size.
 */
import { VfioProtocolError } from "../api/errors.js";
import type { Fields, Layout } from "./struct.js";

/** Options of callWithArgsz. */
export interface ArgszOptions<F extends Fields> {
  /** The info struct; its first field must be `argsz` (u32), as in every VFIO INFO struct. */
  readonly layout: Layout<F>;
  /** The request's input fields (e.g. `{ index }`); argsz is set by the helper. */
  readonly input?: Parameters<Layout<F>["encode"]>[0];
  /** The first buffer size; defaults to sizeof the struct. */
  readonly initialSize?: number;
  /**
   * The largest argsz accepted from the other side. QEMU and the kernel have no such bound;
   * vfio-ts has one because the answer may come from a vfio-user peer. Default 1 MiB.
   */
  readonly maxSize?: number;
}

const DEFAULT_MAX = 1 << 20;
/** Retries: the kernel needs at most one; a second grows only if the answer changed in between. */
const MAX_ATTEMPTS = 4;

/**
 * Performs `perform` on a buffer holding `layout` with `argsz` set, growing and retrying while
 * the returned argsz is larger than the buffer. Resolves with the final buffer (argsz as the
 * callee left it); `perform` rejects as the call failed (e.g. a VfioSystemError).
 * @throws VfioProtocolError (field "argsz") when the returned argsz exceeds `maxSize` or keeps growing.
 * @example
 * const buf = await callWithArgsz({ layout: regionInfoLayout, input: { index: 0 } },
 *   (b) => libc.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, b));
 */
export async function callWithArgsz<F extends Fields>(
  options: ArgszOptions<F>,
  perform: (buffer: Uint8Array) => unknown,
): Promise<Uint8Array> {
  const { layout, maxSize = DEFAULT_MAX } = options;
  if (layout.offsets["argsz"] !== 0 || layout.fields["argsz"]?.kind !== "u32") {
    throw new TypeError(`${layout.name} does not start with a u32 argsz`);
  }
  let size = Math.max(layout.size, options.initialSize ?? layout.size);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const buffer = new Uint8Array(size);
    layout.encode({ ...options.input, argsz: size } as Parameters<Layout<F>["encode"]>[0], buffer);
    await perform(buffer);
    const argsz = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0, true);
    if (argsz <= size) return buffer;
    if (argsz > maxSize) {
      throw new VfioProtocolError(`${layout.name}: argsz ${argsz} exceeds the ${maxSize}-byte limit`, "argsz");
    }
    size = argsz;
  }
  throw new VfioProtocolError(`${layout.name}: argsz still growing after ${MAX_ATTEMPTS} calls`, "argsz");
}
