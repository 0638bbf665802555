/**
 * The calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), for benches whose work
 * is pure computation on this thread: on a machine shared with other jobs, time spent
 * descheduled then counts for neither side, where wall-clock time would charge it to whichever
 * side it fell on. The C baselines time themselves with the same clock.
 */
import { libcLibrary } from "../src/native/ffi.js";

/** CLOCK_THREAD_CPUTIME_ID, include/uapi/linux/time.h. */
const CLOCK_THREAD_CPUTIME_ID = 3;

let clockGettime: ((clock: number, out: BigInt64Array) => number) | undefined;
const timespec = new BigInt64Array(2);

/** Seconds of CPU time this thread has used. */
export function threadCpuSeconds(): number {
  clockGettime ??= libcLibrary().func("int clock_gettime(int clock, _Out_ int64_t *ts)") as (clock: number, out: BigInt64Array) => number;
  if (clockGettime(CLOCK_THREAD_CPUTIME_ID, timespec) !== 0) throw new Error("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
  return Number(timespec[0]!) + Number(timespec[1]!) / 1e9;
}
