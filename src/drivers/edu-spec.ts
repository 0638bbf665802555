/**
 * QEMU's edu device as its driver sees it (docs/specs/edu.rst): the register map and bits, the
 * DMA buffer, and the driver's public option and result types; with the small checks the
 * driver (edu.ts) shares. The driver's own copy of the spec, as a real driver's header would be.
 */
import { VfioError, VfioUsageError } from "../api/errors.js";

/** BAR0 registers (edu.rst "MMIO area spec"). */
export const REG = {
  id: 0x00,
  liveness: 0x04,
  factorial: 0x08,
  status: 0x20,
  irqStatus: 0x24,
  irqRaise: 0x60,
  irqAck: 0x64,
  dmaSource: 0x80,
  dmaDestination: 0x88,
  dmaCount: 0x90,
  dmaCommand: 0x98,
} as const;
export const STATUS_COMPUTING = 0x01;
export const STATUS_IRQ_FACT = 0x80;
export const DMA_RUN = 0x1;
export const DMA_TO_RAM = 0x2;
export const DMA_IRQ = 0x4;
export const IRQ_FACT = 0x1;
export const IRQ_DMA = 0x100;
export const EDU_VENDOR = 0x1234;
export const EDU_DEVICE = 0x11e8;
/** The device's DMA buffer and its address on the device side. */
export const DMA_BUFFER = 0x40000;
export const DMA_BUFFER_SIZE = 4096;
/**
 * The longest transfer the driver starts. QEMU 7.2's range check refuses a transfer whose end
 * reaches the buffer's end (hw/misc/edu.c edu_check_range: hw_error stops the VM, as the test guest showed), so one byte stays unused.
 */
export const EDU_MAX_TRANSFER = DMA_BUFFER_SIZE - 1;
/** The default DMA mask of edu: 28 bits (edu.rst "dma_mask"). */
export const EDU_DMA_LIMIT = 1n << 28n;

export interface EduDriverOptions {
  /**
   * Wait for completions by MSI (default), by INTx (level-triggered: vfio-pci masks it when it
   * fires, the driver unmasks it after acknowledging the device), or by polling the busy bits.
   * Where the device offers no vector of that kind the driver polls.
   */
  readonly completion?: EduCompletion;
  /** Map BAR0 where the backend can (default true), else region read/write. */
  readonly mmap?: boolean;
  /** How long to wait for the device, in ms (default 5000: QEMU's DMA takes 100 ms of guest time, slower under TCG). */
  readonly timeoutMs?: number;
}

/** How the driver learns that the device finished. */
export type EduCompletion = "msi" | "intx" | "poll";

export interface EduIdentity {
  /** The identification register, 0xRRrr00ed. */
  readonly id: number;
  readonly major: number;
  readonly minor: number;
}

/** What the IOMMU demonstration saw. The driver cannot see the IOMMU fault itself, only its effects. */
export interface EduIommuDemo {
  /** The driver's buffer, mapped for the device. */
  readonly mappedIova: bigint;
  /** An IOVA with no mapping. */
  readonly unmappedIova: bigint;
  readonly length: number;
  /** Control: device → memory at the mapped IOVA delivered the device's bytes. */
  readonly writeToMappedDelivered: boolean;
  /** Device → memory at the unmapped IOVA: the command completed, and none of the driver's memory changed. */
  readonly writeToUnmapped: { readonly completed: boolean; readonly memoryChanged: boolean };
  /**
   * Memory → device from the unmapped IOVA: what the device's buffer holds afterwards.
   * "zeros": the device read nothing (QEMU reads a faulting DMA as zeros); "unchanged": the
   * buffer kept its earlier contents; "memory": it received the driver's memory (no protection).
   */
  readonly readFromUnmapped: { readonly completed: boolean; readonly deviceBuffer: "zeros" | "unchanged" | "memory" | "other" };
  /** The IOMMU kept the device away from memory that was not mapped for it. */
  readonly blocked: boolean;
}

export function timeoutError(what: string, ms: number): VfioError {
  return new VfioError(`edu: ${what} did not complete within ${ms} ms`, "ETIMEDOUT");
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A blocked transfer may make a device stall rather than complete; report that, rethrow anything else. */
export function timeoutOnly(error: unknown): false {
  if (error instanceof VfioError && error.code === "ETIMEDOUT") return false;
  throw error;
}

export function checkTransfer(offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1 || offset + length > EDU_MAX_TRANSFER) {
    throw new VfioUsageError(
      `edu DMA of ${length} bytes at buffer offset ${offset} must stay within the first ${EDU_MAX_TRANSFER} bytes (QEMU 7.2 stops the VM for a transfer reaching the buffer's last byte)`,
      "ERANGE",
    );
  }
}
