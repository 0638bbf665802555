/**
 * EventNotifier over a non-blocking eventfd watched on Node's event loop.
 *
 * Why this shape (measured): a blocking read on the thread pool holds a libuv thread per
 * eventfd and keeps `process.exit()` waiting; a timer polls. A `uv_poll_t` (koffi.node.poll)
 * costs no thread, wakes in ~12 µs, and does not hold the loop when stopped. So the watch runs
 * only while someone waits (an `onSignal` listener or a pending `next()`); signals that arrive
 * meanwhile accumulate in the eventfd's counter (eventfd(2): a write adds to it, a read returns
 * it and resets it to zero) and are delivered when the next listener starts watching.
 */
import type { EventNotifier } from "../api/event-notifier.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";
import { EFD_CLOEXEC, EFD_NONBLOCK, type FdWatch, type Libc } from "./libc.js";

/**
 * Notifiers being watched. A koffi poll handle that JS no longer references is closed by the
 * garbage collector and its events stop, so a watched notifier is kept reachable
 * here even if its owner dropped every other reference.
 */
const watched = new Set<KernelEventNotifier>();

/** An eventfd-backed EventNotifier. */
export class KernelEventNotifier implements EventNotifier {
  #fd: number;
  readonly #libc: Libc;
  #watch: FdWatch | undefined;
  #armed = false;
  readonly #listeners: ((count: bigint) => void)[] = [];
  #waiters: { resolve(count: bigint): void; reject(error: Error): void }[] = [];
  readonly #buffer = new BigUint64Array(1);
  readonly #bytes = new Uint8Array(this.#buffer.buffer);
  #onClose: (() => void) | undefined;

  /** Creates the eventfd (EFD_NONBLOCK | EFD_CLOEXEC). `onClose` tells an owner it is gone. */
  constructor(libc: Libc, onClose?: () => void) {
    const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw new VfioSystemError("eventfd", -fd, "syscall", "eventfd", fd === -errnoValue("EMFILE") ? "too many open files: raise RLIMIT_NOFILE or close notifiers" : undefined);
    this.#libc = libc;
    this.#fd = fd;
    this.#onClose = onClose;
  }

  get fd(): number | undefined {
    return this.#fd >= 0 ? this.#fd : undefined;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  signal(): void {
    this.#assertOpen("signal");
    this.#buffer[0] = 1n;
    const result = this.#libc.write(this.#fd, this.#bytes);
    // EAGAIN only when the counter would overflow 2^64-2: the notifier is signalled anyway.
    if (result < 0 && result !== -errnoValue("EAGAIN")) throw new VfioSystemError("eventfd", -result, "syscall", `eventfd ${this.#fd}`);
  }

  onSignal(listener: (count: bigint) => void): void {
    this.#assertOpen("onSignal");
    this.#listeners.push(listener);
    if (this.#listeners.length === 1) this.#updateWatch();
  }

  next(): Promise<bigint> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise<bigint>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (this.#waiters.length === 1 && this.#listeners.length === 0) this.#updateWatch();
    });
  }

  /**
   * Reads and resets the counter without waiting: the signals since the last read, 0n if none.
   * For callers that poll on their own schedule (benchmarks, tests).
   */
  take(): bigint {
    this.#assertOpen("take");
    // A non-semaphore eventfd returns its whole count in one read and resets it (eventfd(2)), so
    // one read drains it; a signal racing in after it leaves the fd readable, and the
    // level-triggered poll simply calls again.
    const result = this.#libc.read(this.#fd, this.#bytes);
    if (result === 8) return this.#buffer[0]!;
    if (result === -errnoValue("EAGAIN")) return 0n;
    throw new VfioSystemError("eventfd", result < 0 ? -result : errnoValue("EIO"), "syscall", `eventfd ${this.#fd}`);
  }

  close(): void {
    if (this.closed) return;
    // The poll handle goes before the fd: libuv must not poll a closed (or reused) fd.
    this.#watch?.close();
    this.#watch = undefined;
    watched.delete(this);
    this.#libc.close(this.#fd);
    this.#fd = -1;
    this.#listeners.length = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(closedError());
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(what: string): void {
    if (this.closed) throw new VfioSystemError("eventfd", errnoValue("EBADF"), "syscall", "eventfd", `${what} on a closed notifier`);
  }

  /** Arms the watch while someone waits and stops it otherwise; each change is an epoll_ctl, so only changes reach libuv. */
  #updateWatch(): void {
    const wanted = this.#listeners.length > 0 || this.#waiters.length > 0;
    if (wanted === this.#armed) return;
    this.#armed = wanted;
    if (wanted) {
      this.#watch ??= this.#libc.watch(this.#fd, this.#onReadable);
      this.#watch.update({ readable: true, writable: false });
      watched.add(this);
    } else if (this.#watch) {
      this.#watch.update({ readable: false, writable: false });
      watched.delete(this);
    }
  }

  // The interrupt path: the poll callback (fd-watch.ts) calls this directly, one read(2) takes
  // every signal since the last one (the batch drain), and onSignal listeners run in the same
  // call, with no promise in between.
  #deliver(): void {
    if (this.closed) return;
    const listeners = this.#listeners;
    const waiters = this.#waiters;
    if (listeners.length === 0 && waiters.length === 0) {
      // Nobody waits (the watch was left running for a next() about to come): leave the count in
      // the eventfd for whoever waits next, and stop polling.
      this.#updateWatch();
      return;
    }
    // take(), inlined: this runs once per interrupt, cold after the wait, so every call saved shows.
    const result = this.#libc.read(this.#fd, this.#bytes);
    if (result !== 8) {
      if (result === -errnoValue("EAGAIN")) return;
      const error = new VfioSystemError("eventfd", result < 0 ? -result : errnoValue("EIO"), "syscall", `eventfd ${this.#fd}`);
      this.#waiters = [];
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    const count = this.#buffer[0]!;
    if (waiters.length > 0) {
      this.#waiters = [];
      for (const waiter of waiters) waiter.resolve(count);
      // Stopping and restarting the watch costs two epoll_ctl calls per signal. A caller looping on
      // `await next()` asks again within the microtask its promise resolves in, before the check
      // queued here runs: then the watch simply stays.
      if (listeners.length === 0) queueMicrotask(this.#stopIfIdle);
    }
    for (let i = 0; i < listeners.length; i++) listeners[i]!(count);
  }

  readonly #onReadable = (): void => this.#deliver();

  readonly #stopIfIdle = (): void => {
    if (!this.closed && this.#listeners.length === 0 && this.#waiters.length === 0) this.#updateWatch();
  };
}

function closedError(): VfioSystemError {
  return new VfioSystemError("eventfd", errnoValue("EBADF"), "syscall", "eventfd", "the notifier was closed");
}
