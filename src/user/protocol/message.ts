/**
 * A vfio-user message as the protocol core sees it: a decoded header, the payload after it,
 * and the fds that rode with it. The header codec lives here once, for every transport
 * (avoiding libvfio-user's tran_sock.c/tran_pipe.c duplication).
 */
import {
  VFIO_USER_F_ERROR, VFIO_USER_F_NO_REPLY, VFIO_USER_F_TYPE_COMMAND, VFIO_USER_F_TYPE_MASK, VFIO_USER_F_TYPE_REPLY,
  VFIO_USER_HEADER_SIZE, vfioUserHeaderLayout, type VfioUserHeader,
} from "../../abi/vfio-user/header.js";

/** One received message. The receiver owns `fds` and must close the ones it does not keep. */
export interface Message {
  readonly header: VfioUserHeader;
  /** The bytes after the header (msg_size - 16). */
  readonly payload: Uint8Array;
  readonly fds: number[];
}

/** The message type bits of a header's flags. */
export function messageType(header: VfioUserHeader): number {
  return header.flags & VFIO_USER_F_TYPE_MASK;
}

export function isReply(header: VfioUserHeader): boolean {
  return messageType(header) === VFIO_USER_F_TYPE_REPLY;
}

/** Encodes a whole message (header then payload parts) into one buffer, for one sendmsg. */
export function encodeMessage(
  header: { msgId: number; command: number; flags: number; error?: number },
  ...parts: readonly Uint8Array[]
): Uint8Array {
  let size = VFIO_USER_HEADER_SIZE;
  for (const part of parts) size += part.byteLength;
  // Buffers of 128 bytes or more are off-heap and stay put, so the socket layer can send
  // from them in place (native/socket.ts).
  const out = new Uint8Array(new ArrayBuffer(Math.max(size, 128)), 0, size);
  vfioUserHeaderLayout.encode({ msgId: header.msgId, command: header.command, msgSize: size, flags: header.flags, error: header.error ?? 0 }, out);
  let at = VFIO_USER_HEADER_SIZE;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** A command (type 0), optionally NO_REPLY. */
export function encodeCommand(msgId: number, command: number, noReply: boolean, ...parts: readonly Uint8Array[]): Uint8Array {
  return encodeMessage({ msgId, command, flags: VFIO_USER_F_TYPE_COMMAND | (noReply ? VFIO_USER_F_NO_REPLY : 0) }, ...parts);
}

/** A successful reply to `request`. */
export function encodeReply(request: VfioUserHeader, ...parts: readonly Uint8Array[]): Uint8Array {
  return encodeMessage({ msgId: request.msgId, command: request.command, flags: VFIO_USER_F_TYPE_REPLY }, ...parts);
}

/** An error reply: header only, ERROR set, errno in `error` (spec §"Header"). */
export function encodeErrorReply(request: Pick<VfioUserHeader, "msgId" | "command">, errno: number): Uint8Array {
  return encodeMessage({ msgId: request.msgId, command: request.command, flags: VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, error: errno });
}
