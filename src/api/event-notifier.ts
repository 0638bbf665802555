/**
 * An interrupt notifier: what VFIO signals through an eventfd (VFIO_IRQ_SET_DATA_EVENTFD).
 *
 * The kernel and vfio-user backends use a real eventfd (`fd` set) watched on the event loop;
 * the emulated machine uses an in-process notifier with no fd. Either way the listener runs on
 * the event loop with the number of signals since it last ran, and a closed notifier keeps no
 * handle open, so the process can exit.
 */
export interface EventNotifier {
  /** The eventfd, where the backend has one. */
  readonly fd: number | undefined;
  /** Signals the notifier, as a device raising its interrupt does (an 8-byte eventfd write). */
  signal(): void;
  /** Calls `listener` on the event loop with the count accumulated since the last call. */
  onSignal(listener: (count: bigint) => void): void;
  /** Resolves on the next signal with the count; rejects if the notifier is closed first. */
  next(): Promise<bigint>;
  /** Closes the notifier and its fd. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}
