/**
 * A VFIO_DEVICE_SET_IRQS request (struct vfio_irq_set), kept close to the uapi so that every
 * misuse the kernel rejects can be expressed, and rejected with the same errno, on every backend.
 */
import type { EventNotifier } from "./event-notifier.js";

export interface IrqSetRequest {
  /** VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_* (constants.ts). */
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  /** With DATA_BOOL: one value per vector. */
  readonly bools?: readonly boolean[];
  /** With DATA_EVENTFD: one notifier per vector; null de-assigns that vector (fd -1). */
  readonly notifiers?: readonly (EventNotifier | null)[];
}
