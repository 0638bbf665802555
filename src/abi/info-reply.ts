/**
 * The kernel's side of an INFO ioctl with a capability chain, for backends that answer one
 * (the emulated machine, the vfio-user server), so their replies match Linux 6.1 byte for byte.
 *
 * What vfio_pci_ioctl_get_region_info and vfio_iommu_type1_get_info do with a chain:
 * - set the CAPS flag whenever there are caps;
 * - if the user's argsz < sizeof(info) + chain size: write the needed size into argsz, leave
 *   cap_offset 0 and copy no chain (the call still succeeds);
 * - else copy the chain right after the struct (vfio_info_cap_shift by sizeof(info)), set
 *   cap_offset to sizeof(info), and leave argsz as the user gave it;
 * - then copy only `minsz` bytes of the struct back (copy_to_user(arg, &info, minsz)): for
 *   type1 IOMMU info that is offsetofend(cap_offset) = 20, not the padded sizeof 24 (and 16,
 *   offsetofend(iova_pgsizes), when the user's argsz is under 20).
 *
 * test/kernel/abi-info-reply.test.ts checks this byte for byte against Linux 6.1's replies.
 */
import { encodeCapChain, type CapToEncode } from "./cap-chain.js";
import type { Fields, Layout } from "./struct.js";

/** What writeInfoReply needs beyond the info value. */
export interface InfoReplyOptions {
  /** The CAPS flag of this INFO struct (VFIO_REGION_INFO_FLAG_CAPS, VFIO_IOMMU_INFO_CAPS). */
  readonly capsFlag: number;
  /** How many bytes of the struct the kernel copies back; default sizeof. */
  readonly copySize?: number;
  /** Capability alignment: 1 for Linux 6.1 (see encodeCapChain). */
  readonly align?: number;
}

/**
 * Writes the reply into `into`, the user's buffer (its length is the user's argsz, which must
 * be at least `copySize`). `info` holds the fields the kernel fills (flags without the CAPS
 * flag, sizes, ...); argsz and cap_offset are set here.
 */
export function writeInfoReply<F extends Fields>(
  layout: Layout<F>,
  info: Parameters<Layout<F>["encode"]>[0],
  caps: readonly CapToEncode[],
  into: Uint8Array,
  options: InfoReplyOptions,
): void {
  const userArgsz = into.byteLength;
  const value: Record<string, unknown> = { ...info, argsz: userArgsz, capOffset: 0 };
  if (caps.length > 0) {
    value["flags"] = ((value["flags"] as number | undefined) ?? 0) | options.capsFlag;
    const chain = encodeCapChain(caps, layout.size, options.align ?? 1);
    if (userArgsz < layout.size + chain.byteLength) {
      value["argsz"] = layout.size + chain.byteLength;
    } else {
      into.set(chain, layout.size);
      value["capOffset"] = layout.size;
    }
  }
  const struct = layout.encode(value as Parameters<Layout<F>["encode"]>[0]);
  into.set(struct.subarray(0, options.copySize ?? layout.size), 0);
}
