/**
 * The vfio-user message header (vfio-user spec §"Header"; libvfio-user include/vfio-user.h
 * struct vfio_user_header). 16 bytes, packed, host-endian, at the start of every message.
 */
import { struct, u16, u32, type Infer } from "../struct.js";

/** struct vfio_user_header. */
export const vfioUserHeaderLayout = struct(
  "vfio_user_header",
  { msgId: u16, command: u16, msgSize: u32, flags: u32, error: u32 },
  { packed: true, cNames: { command: "cmd", error: "error_no" } },
);
export type VfioUserHeader = Infer<typeof vfioUserHeaderLayout>;

/** sizeof(struct vfio_user_header). */
export const VFIO_USER_HEADER_SIZE = vfioUserHeaderLayout.size;

/** flags bits 0–3: the message type. */
export const VFIO_USER_F_TYPE_MASK = 0xf;
export const VFIO_USER_F_TYPE_COMMAND = 0x0;
export const VFIO_USER_F_TYPE_REPLY = 0x1;
/** The sender wants no reply to this command. */
export const VFIO_USER_F_NO_REPLY = 0x10;
/** A reply whose `error` field carries an errno. */
export const VFIO_USER_F_ERROR = 0x20;
/** Every flag bit the spec defines; the rest are reserved. */
export const VFIO_USER_F_KNOWN = VFIO_USER_F_TYPE_MASK | VFIO_USER_F_NO_REPLY | VFIO_USER_F_ERROR;

/**
 * The largest message libvfio-user accepts: 1 MiB of data plus room for the region-access
 * prefix and header (lib/tran.h SERVER_MAX_MSG_SIZE-style bound, VFIO-USER.md §1).
 */
export const VFIO_USER_MAX_MSG_SIZE = 1024 * 1024 + 32;
/** The default max_data_xfer_size (spec §"Version"). */
export const VFIO_USER_DEFAULT_MAX_DATA_XFER_SIZE = 1024 * 1024;
/** The default max_msg_fds (spec §"Version"). */
export const VFIO_USER_DEFAULT_MAX_MSG_FDS = 1;
/** The default max_dma_maps (spec §"Version"). */
export const VFIO_USER_DEFAULT_MAX_DMA_MAPS = 65535;
/** The default pgsizes: 4 KiB (spec §"Version"). */
export const VFIO_USER_DEFAULT_PGSIZES = 4096n;
