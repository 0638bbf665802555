/**
 * The device's DMA into windows the client mapped without an fd: DMA_READ/DMA_WRITE messages
 * to the client (spec §"VFIO_USER_DMA_READ", §"VFIO_USER_DMA_WRITE"), in pieces of at most the
 * client's max_data_xfer_size, as libvfio-user splits them.
 *
 * Two layouts are in use. The spec and libvfio-user put a u64 count after the address (data at
 * byte 32); QEMU's vfio-user client (hw/vfio-user/pci.c, struct vfio_user_dma_rw) reads and
 * answers a u32 count (data at byte 28), and answers a DMA_WRITE with a bare header. A
 * DMA_READ reply tells them apart without doubt: for n bytes asked, the spec's payload is
 * 16 + n bytes, QEMU's 12 + n. A DMA_WRITE cannot be told apart by its reply until after the
 * write (QEMU would take the count's upper half as data and corrupt guest memory), so the first
 * write to a client whose layout is not yet known is preceded by a 1-byte DMA_READ of the same
 * address, and a client that does not answer that probe gets no DMA_WRITE at all.
 */
import { VfioUserCommand } from "../abi/vfio-user/command.js";
import { dmaAccessLayout } from "../abi/vfio-user/messages.js";
import { DmaTransferError, type DmaMessenger } from "./dma-windows.js";
import type { Message } from "./protocol/message.js";

export type DmaLayout = "spec" | "qemu";

/** The fix to name when a client's DMA cannot be done by message. */
export const SHARED_MEMORY_FIX = "give the VMM fd-backed guest RAM (QEMU: -object memory-backend-memfd,id=mem,size=...,share=on -machine memory-backend=mem)";

/** Sends a server→client command and resolves with its reply (rejects on an error reply or timeout). */
export type SendCommand = (command: number, ...parts: Uint8Array[]) => Promise<Message>;

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint): Uint8Array => new Uint8Array(new BigUint64Array([n]).buffer);

export class MessageDma implements DmaMessenger {
  #layout: DmaLayout | undefined;

  constructor(readonly send: SendCommand, readonly maxTransfer: () => number) {}

  /** The client's layout, once a reply has shown it. */
  get layout(): DmaLayout | undefined {
    return this.#layout;
  }

  async read(address: bigint, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const chunk = this.maxTransfer();
    for (let at = 0; at < length; at += chunk) {
      const n = Math.min(chunk, length - at);
      out.set(await this.#readPiece(address + BigInt(at), n), at);
    }
    return out;
  }

  async #readPiece(address: bigint, n: number): Promise<Uint8Array> {
    const reply = await this.send(VfioUserCommand.DMA_READ, dmaAccessLayout.encode({ address, count: BigInt(n) }));
    const p = reply.payload;
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const addressOk = p.byteLength >= 8 && view.getBigUint64(0, true) === address;
    if (addressOk && p.byteLength === 16 + n && view.getBigUint64(8, true) === BigInt(n)) {
      this.#layout = "spec";
      return p.subarray(16);
    }
    if (addressOk && p.byteLength === 12 + n && view.getUint32(8, true) === n) {
      this.#layout = "qemu";
      return p.subarray(12);
    }
    throw new DmaTransferError(address, "read", `the client's DMA_READ reply (${p.byteLength} bytes for ${n}) is neither the spec's layout nor QEMU's`);
  }

  async write(address: bigint, data: Uint8Array): Promise<void> {
    if (this.#layout === undefined && data.byteLength > 0) {
      try {
        await this.#readPiece(address, 1);
      } catch (error) {
        const why = error instanceof DmaTransferError ? error.detail : (error as Error).message;
        throw new DmaTransferError(address, "write", `the client's DMA_WRITE layout is unknown and the probe read failed (${why}); ${SHARED_MEMORY_FIX}`);
      }
    }
    const chunk = this.maxTransfer();
    for (let at = 0; at < data.byteLength; at += chunk) {
      const piece = data.subarray(at, Math.min(at + chunk, data.byteLength));
      const a = address + BigInt(at);
      const count = this.#layout === "qemu" ? u32(piece.byteLength) : u64(BigInt(piece.byteLength));
      await this.send(VfioUserCommand.DMA_WRITE, u64(a), count, piece);
    }
  }
}

