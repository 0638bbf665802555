/**
 * Splits a byte stream into vfio-user messages and gives each the fds that came with it.
 *
 * Which fds belong to which message: a peer sends each message, with its fds, in one sendmsg
 * (VFIO-USER.md §1), so the fds ride on the skb that holds the message's first bytes. A
 * unix-stream recvmsg stops right after an skb carrying fds (net/unix/af_unix.c,
 * unix_stream_read_generic: `if (scm.fp) break;`), so the fds of one read belong to the
 * LAST message that starts inside that read. Fds that no message can own (sent on bytes that
 * continue an earlier message) are closed, never leaked.
 */
import { VfioProtocolError } from "../../api/errors.js";
import { VFIO_USER_HEADER_SIZE, vfioUserHeaderLayout } from "../../abi/vfio-user/header.js";
import type { Message } from "./message.js";

export class MessageReader {
  #pending: Uint8Array = new Uint8Array(0);
  #pendingFds: number[] = [];
  readonly #maxSize: number;
  readonly #closeFd: (fd: number) => void;

  /**
   * @param maxSize the largest msg_size accepted; a larger one is a framing error.
   * @param closeFd closes an fd nobody will own.
   */
  constructor(maxSize: number, closeFd: (fd: number) => void) {
    this.#maxSize = maxSize;
    this.#closeFd = closeFd;
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.#pending.byteLength;
  }

  /**
   * Feeds one read (`chunk` is copied where it must be kept) and returns the complete
   * messages in it. Throws VfioProtocolError for a header the stream cannot be resynchronised
   * after (msg_size out of bounds); the caller then closes the connection.
   */
  feed(chunk: Uint8Array, fds: readonly number[]): Message[] {
    const out: Message[] = [];
    let data = chunk;
    // Where this chunk starts within `data` (after any pending bytes).
    let chunkStart = 0;
    if (this.#pending.byteLength > 0) {
      const joined = new Uint8Array(this.#pending.byteLength + chunk.byteLength);
      joined.set(this.#pending);
      joined.set(chunk, this.#pending.byteLength);
      chunkStart = this.#pending.byteLength;
      data = joined;
      this.#pending = new Uint8Array(0);
    }
    let chunkFds: number[] | undefined = fds.length > 0 ? [...fds] : undefined;
    let at = 0;
    try {
      while (data.byteLength - at >= VFIO_USER_HEADER_SIZE) {
        const header = vfioUserHeaderLayout.decode(data, at);
        if (header.msgSize < VFIO_USER_HEADER_SIZE || header.msgSize > this.#maxSize) {
          throw new VfioProtocolError(`msg_size ${header.msgSize} is outside [${VFIO_USER_HEADER_SIZE}, ${this.#maxSize}]`, "msg_size", 7 /* E2BIG */);
        }
        const end = at + header.msgSize;
        // The last message to start in this chunk takes the chunk's fds.
        if (chunkFds && at >= chunkStart && end >= data.byteLength) {
          this.#takeFds(chunkFds);
          chunkFds = undefined;
        }
        if (end > data.byteLength) break;
        out.push({ header, payload: data.slice(at + VFIO_USER_HEADER_SIZE, end), fds: this.#pendingFds });
        this.#pendingFds = [];
        at = end;
      }
      if (chunkFds && data.byteLength - at < VFIO_USER_HEADER_SIZE && at >= chunkStart && at < data.byteLength) {
        // A header split by the read (a peer that did not send header and fds together).
        this.#takeFds(chunkFds);
        chunkFds = undefined;
      }
    } finally {
      if (chunkFds) for (const fd of chunkFds) this.#closeFd(fd);
    }
    if (at < data.byteLength) this.#pending = data.slice(at);
    return out;
  }

  #takeFds(fds: number[]): void {
    // A message can only own one set; a second set for the same message is stray.
    for (const fd of this.#pendingFds) this.#closeFd(fd);
    this.#pendingFds = fds;
  }

  /** Closes fds held for an incomplete message. Idempotent. */
  dispose(): void {
    for (const fd of this.#pendingFds) this.#closeFd(fd);
    this.#pendingFds = [];
    this.#pending = new Uint8Array(0);
  }
}
