/**
 * BAR0 as the NVMe driver uses it. On a mapped BAR (kernel mmap, the emulator's MMIO view)
 * every access is a synchronous load or store: doorbells cost no promise. Where BAR0 cannot be
 * mapped (a model served over vfio-user without a region fd), reads are REGION_READs and
 * writes are posted: queued in order, each sent after the one before (a PCI memory write is
 * posted, and a later read must not pass it: PCIe Base Specification §2.4.1 ordering rules),
 * with a read waiting for every earlier write.
 */
import type { VfioDevice } from "../../api/device.js";
import { openBar, type BarAccess } from "../bar-access.js";

/** What the queue pairs need: a doorbell write that never waits. */
export interface DoorbellWriter {
  write32(offset: number, value: number): void;
}

/** What the CC/CSTS handshakes need: reads that may wait. */
export interface ControllerRegisters extends DoorbellWriter {
  read32(offset: number): number | Promise<number>;
}

export class RegisterPort implements ControllerRegisters {
  readonly #bar: BarAccess;
  #posted: Promise<void> = Promise.resolve();
  #postError: unknown;

  private constructor(bar: BarAccess) {
    this.#bar = bar;
  }

  static async open(device: VfioDevice): Promise<RegisterPort> {
    return new RegisterPort(await openBar(device, 0));
  }

  /** True when accesses are loads and stores on a mapping. */
  get mapped(): boolean {
    return this.#bar.mapped;
  }

  read32(offset: number): number | Promise<number> {
    const bar = this.#bar;
    if (bar.mapped) return bar.read32(offset);
    return this.#posted.then(() => {
      this.#throwPostError();
      return bar.read32(offset);
    });
  }

  write32(offset: number, value: number): void {
    const bar = this.#bar;
    if (bar.mapped) {
      bar.write32(offset, value);
      return;
    }
    this.#posted = this.#posted.then(() => bar.write32(offset, value)).catch((error: unknown) => {
      this.#postError ??= error;
    });
  }

  /** Resolves once every posted write is done; rejects with the first that failed. */
  async settle(): Promise<void> {
    await this.#posted;
    this.#throwPostError();
  }

  #throwPostError(): void {
    if (this.#postError !== undefined) {
      const error = this.#postError;
      this.#postError = undefined;
      throw error;
    }
  }

  close(): void {
    this.#bar.close();
  }
}
