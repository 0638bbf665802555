/**
 * The emulated machine's eventfd: an in-process counter with eventfd semantics (signals add
 * up; a read takes the whole count). Listeners run on the event loop, never inside signal(),
 * so a device model raising an interrupt is not re-entered by the driver's handler; no timer
 * or handle is left behind, so a process with open notifiers can still exit.
 */
import type { EventNotifier } from "../api/event-notifier.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";

export class InProcessNotifier implements EventNotifier {
  readonly fd = undefined;
  private count = 0n;
  private scheduled = false;
  private closed = false;
  private readonly listeners: ((count: bigint) => void)[] = [];
  private readonly waiters: { resolve(count: bigint): void; reject(error: Error): void }[] = [];
  /** Total signals ever received (for tests and the demo). */
  signals = 0;

  signal(): void {
    if (this.closed) return;
    this.count++;
    this.signals++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.deliver());
    }
  }

  onSignal(listener: (count: bigint) => void): void {
    this.listeners.push(listener);
    if (this.count > 0n && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.deliver());
    }
  }

  next(): Promise<bigint> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.count > 0n && !this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.deliver());
      }
    });
  }

  /** Reads and clears the counter, as a read() of an eventfd does; 0n when nothing is pending. */
  take(): bigint {
    const c = this.count;
    this.count = 0n;
    return c;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(closedError());
    this.listeners.length = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private deliver(): void {
    this.scheduled = false;
    if (this.closed || this.count === 0n) return;
    if (this.listeners.length === 0 && this.waiters.length === 0) return; // stays pending, as in an eventfd
    const c = this.take();
    for (const w of this.waiters.splice(0)) w.resolve(c);
    for (const l of this.listeners) l(c);
  }
}

/** A read of a closed eventfd: EBADF, as the native notifier answers (native/event-notifier.ts). */
function closedError(): VfioSystemError {
  return new VfioSystemError("eventfd", errnoValue("EBADF"), "emulated", "eventfd", "the notifier was closed");
}
