/**
 * The emulated machine's physical memory, as far as a device with no IOMMU translation sees it:
 * page frames by number. Frames handed to a process (pinned for UIO DMA) are that process's
 * bytes; every other frame is memory the process does not own (the kernel's, another
 * process's), kept sparse: zeros until something writes it. A device on UIO addresses all of
 * it by physical address, which is the whole danger.
 */
const PAGE = 4096;

export class PhysicalMemory {
  private readonly frames = new Map<number, Uint8Array>();
  /** Frames not handed out yet start here (about where the test guest's userspace pages sit). */
  private nextFrame: number;

  constructor(base = 0x994c000) {
    this.nextFrame = base / PAGE;
  }

  /**
   * `pages` physically contiguous frames for a process, backed by one buffer (pinned: they
   * never move). A guard frame follows each allocation, so successive allocations are not
   * contiguous with one another, as on a real machine.
   */
  allocate(pages: number): { readonly frame: number; readonly bytes: Uint8Array; release(): void } {
    const frame = this.nextFrame;
    this.nextFrame += pages + 1;
    const bytes = new Uint8Array(pages * PAGE);
    for (let i = 0; i < pages; i++) this.frames.set(frame + i, bytes.subarray(i * PAGE, (i + 1) * PAGE));
    return {
      frame,
      bytes,
      // The frame goes back to "memory someone else owns": a later stray DMA to it is not the process's.
      release: () => {
        for (let i = 0; i < pages; i++) this.frames.set(frame + i, bytes.slice(i * PAGE, (i + 1) * PAGE));
      },
    };
  }

  /** The page at physical address `address`, created (zeros) for a write to memory nobody allocated. */
  page(address: bigint, forWrite: boolean): { readonly page: Uint8Array; readonly offset: number } | undefined {
    const frame = Number(address / BigInt(PAGE));
    let page = this.frames.get(frame);
    if (!page) {
      if (!forWrite) return { page: new Uint8Array(PAGE), offset: Number(address % BigInt(PAGE)) };
      page = new Uint8Array(PAGE);
      this.frames.set(frame, page);
    }
    return { page, offset: Number(address % BigInt(PAGE)) };
  }

  /** A copy of `length` bytes at physical `address` (what a look at that memory shows). */
  peek(address: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = address + BigInt(done);
      const { page, offset } = this.page(at, false)!;
      const n = Math.min(length - done, PAGE - offset);
      out.set(page.subarray(offset, offset + n), done);
      done += n;
    }
    return out;
  }
}
