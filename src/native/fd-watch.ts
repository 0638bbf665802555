/**
 * Watching a file descriptor on Node's event loop: a libuv `uv_poll_t` through koffi.node.poll,
 * level-triggered. The one watcher of native/: eventfd notifiers (event-notifier.ts), listening
 * sockets and SCM_RIGHTS transports (user/) all use it.
 *
 * Why a uv_poll_t (measured): it costs no thread, wakes in ~12 µs, and a stopped one
 * does not hold the loop. A handle JS no longer references is closed by the garbage collector,
 * so the owner of a watch keeps it reachable while it matters.
 */
import type * as Koffi from "koffi";
import { koffi } from "./ffi.js";

/** Events a watch awaits or reports. */
export interface FdEvents {
  readonly readable: boolean;
  readonly writable: boolean;
}

/** A uv_poll_t on Node's loop, level-triggered. */
export interface FdWatch {
  /**
   * Watches for the given events, replacing the previous interest; neither event stops the
   * watch (the fd is not polled and the handle does not keep the loop alive).
   */
  update(events: FdEvents): void;
  /** Releases the handle; must happen before the fd is closed. Idempotent; no callback runs after it. */
  close(): void;
}

// The four event sets a callback can see, made once: an interrupt's path from the poll to the
// handler allocates nothing of its own.
const NONE: FdEvents = Object.freeze({ readable: false, writable: false });
const READABLE: FdEvents = Object.freeze({ readable: true, writable: false });
const WRITABLE: FdEvents = Object.freeze({ readable: false, writable: true });
const BOTH: FdEvents = Object.freeze({ readable: true, writable: true });

/** Watches `fd`; `callback` runs on the event loop while an awaited event holds. Not started. */
export function watchFd(fd: number, callback: (events: FdEvents) => void): FdWatch {
  const k = koffi();
  let handle: Koffi.node.PollHandle | undefined;
  let closed = false;
  // koffi passes (status, events) to the callback, not the (events) its types say.
  // A libuv error (status < 0) is reported as both events, so the owner's next call sees the errno.
  const cb = ((status: number, events: { readable?: boolean; writable?: boolean } | undefined) => {
    if (closed) return;
    if (status < 0) return callback(BOTH);
    const readable = events?.readable === true;
    const writable = events?.writable === true;
    callback(readable ? (writable ? BOTH : READABLE) : writable ? WRITABLE : NONE);
  }) as unknown as (ev: Koffi.node.PollEvents) => void;
  return {
    update(events) {
      if (closed) return;
      if (!events.readable && !events.writable) {
        handle?.stop();
        return;
      }
      const wanted = { readable: events.readable, writable: events.writable };
      if (handle) handle.start(wanted, cb);
      else handle = k.node.poll(fd, wanted, cb);
    },
    close() {
      if (closed) return;
      closed = true;
      handle?.close();
      handle = undefined;
    },
  };
}
