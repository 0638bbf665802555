/**
 * Splits a byte stream into vfio-user messages and gives each the fds that came with it.
 *
 * Which fds belong to which message: a peer sends each message, with its fds, in one sendmsg
 * (VFIO-USER.md §1), so the fds ride on the skb that holds the message's first bytes. A
 * unix-stream recvmsg stops right after an skb carrying fds (net/unix/af_unix.c,
 * unix_stream_read_generic: `if (scm.fp) break;`), so the fds of one read belong to the
 * LAST message that starts inside that read. Fds are owned from the moment they arrive: those
 * no message can own (sent on bytes that continue an earlier message) are closed at once, and
 * every fd still held when the stream turns out malformed is closed before the error is thrown.
 *
 * Reassembly is incremental: once a message's header is in, a buffer of its msg_size is
 * allocated and each later read is copied into it once, so a message sent in tiny pieces costs
 * its size in copies, not its size times the number of pieces.
 */
import { VfioProtocolError } from "../../api/errors.js";
import { VFIO_USER_HEADER_SIZE, vfioUserHeaderLayout, type VfioUserHeader } from "../../abi/vfio-user/header.js";
import type { Message } from "./message.js";

export class MessageReader {
  /** A header not yet whole (fewer than 16 bytes), or undefined. */
  #head: Uint8Array | undefined;
  /** The message being filled: its header, its whole bytes, how many are in. */
  #partial: { header: VfioUserHeader; bytes: Uint8Array; filled: number } | undefined;
  #pendingFds: number[] = [];
  #copied = 0;
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
    return (this.#head?.byteLength ?? 0) + (this.#partial?.filled ?? 0);
  }

  /** Whether a message has begun and not yet ended (for the per-message timeout). */
  get midMessage(): boolean {
    return this.buffered > 0;
  }

  /** Bytes copied so far (what reassembly costs). */
  get copiedBytes(): number {
    return this.#copied;
  }

  /**
   * Feeds one read (`chunk` is copied where it must be kept: the caller reuses it) and returns
   * the complete messages in it. Throws VfioProtocolError for a header the stream cannot be
   * resynchronised after (msg_size out of bounds), having closed every fd it held; the caller
   * then closes the connection.
   */
  feed(chunk: Uint8Array, fds: readonly number[]): Message[] {
    const out: Message[] = [];
    let chunkFds: number[] | undefined = fds.length > 0 ? [...fds] : undefined;
    const take = (): void => {
      if (!chunkFds) return;
      // A message can only own one set; a second set for the same message is stray.
      for (const fd of this.#pendingFds) this.#closeFd(fd);
      this.#pendingFds = chunkFds;
      chunkFds = undefined;
    };
    let at = 0;
    try {
      if (this.#head) {
        // Complete a split header, then go on as for a message begun in an earlier read.
        const need = VFIO_USER_HEADER_SIZE - this.#head.byteLength;
        const n = Math.min(need, chunk.byteLength);
        const head = new Uint8Array(this.#head.byteLength + n);
        head.set(this.#head);
        head.set(chunk.subarray(0, n), this.#head.byteLength);
        at = n;
        this.#head = undefined;
        if (head.byteLength < VFIO_USER_HEADER_SIZE) this.#head = head;
        else this.#begin(head, 0, head.byteLength);
      }
      if (this.#partial) {
        const p = this.#partial;
        const n = Math.min(p.bytes.byteLength - p.filled, chunk.byteLength - at);
        p.bytes.set(chunk.subarray(at, at + n), p.filled);
        this.#copied += n;
        p.filled += n;
        at += n;
        if (p.filled === p.bytes.byteLength) {
          out.push({ header: p.header, payload: p.bytes.subarray(VFIO_USER_HEADER_SIZE), fds: this.#pendingFds });
          this.#pendingFds = [];
          this.#partial = undefined;
        }
      }
      while (chunk.byteLength - at >= VFIO_USER_HEADER_SIZE) {
        const header = this.#check(vfioUserHeaderLayout.decode(chunk, at));
        const end = at + header.msgSize;
        // The last message to start in this chunk takes the chunk's fds.
        if (end >= chunk.byteLength) take();
        if (end > chunk.byteLength) {
          this.#begin(chunk, at, chunk.byteLength - at, header);
          at = chunk.byteLength;
          break;
        }
        out.push({ header, payload: chunk.slice(at + VFIO_USER_HEADER_SIZE, end), fds: this.#pendingFds });
        this.#copied += header.msgSize - VFIO_USER_HEADER_SIZE;
        this.#pendingFds = [];
        at = end;
      }
      if (at < chunk.byteLength) {
        // A header split by the read (a peer that did not send header and fds together).
        this.#head = chunk.slice(at);
        take();
      }
    } catch (error) {
      for (const m of out) for (const fd of m.fds) this.#closeFd(fd);
      this.dispose();
      throw error;
    } finally {
      if (chunkFds) for (const fd of chunkFds) this.#closeFd(fd);
    }
    return out;
  }

  #check(header: VfioUserHeader): VfioUserHeader {
    if (header.msgSize < VFIO_USER_HEADER_SIZE || header.msgSize > this.#maxSize) {
      throw new VfioProtocolError(`msg_size ${header.msgSize} is outside [${VFIO_USER_HEADER_SIZE}, ${this.#maxSize}]`, "msg_size", 7 /* E2BIG */);
    }
    return header;
  }

  /** Starts a message whose first `length` bytes are at `from[at..]` (a whole header at least). */
  #begin(from: Uint8Array, at: number, length: number, decoded?: VfioUserHeader): void {
    const header = decoded ?? this.#check(vfioUserHeaderLayout.decode(from, at));
    const bytes = new Uint8Array(header.msgSize);
    const n = Math.min(length, header.msgSize);
    bytes.set(from.subarray(at, at + n));
    this.#copied += n;
    // Whole already only for a 16-byte message whose header was split: feed() hands it over.
    this.#partial = { header, bytes, filled: n };
  }

  /** Closes fds held for an incomplete message. Idempotent. */
  dispose(): void {
    for (const fd of this.#pendingFds) this.#closeFd(fd);
    this.#pendingFds = [];
    this.#head = undefined;
    this.#partial = undefined;
  }
}
