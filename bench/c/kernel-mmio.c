/*
 * Baseline for bench/kernel-mmio.bench.ts: 32-bit volatile loads and stores through the same
 * MAP_SHARED mapping the JS side reads and writes. Built as a shared library and called through
 * koffi from the bench process, so C and JS alternate every few milliseconds on the same pages,
 * the same thread and the same share of a busy machine. Both sides time with the thread's CPU
 * clock, so time spent descheduled by other jobs counts for neither.
 */
#include <stdint.h>
#include <time.h>

volatile uint32_t mmio_sink; /* keeps the loads alive */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Loads per second: `iterations` loads of p[i & mask] (mask + 1 words, a power of two). */
double mmio_read(uintptr_t address, uint32_t mask, long iterations) {
  volatile uint32_t *p = (volatile uint32_t *)address;
  uint32_t sum = 0;
  double t0 = now();
  for (long i = 0; i < iterations; i++) sum += p[i & mask];
  double t1 = now();
  mmio_sink = sum;
  return iterations / (t1 - t0);
}

/* Stores per second, the same pattern. */
double mmio_write(uintptr_t address, uint32_t mask, long iterations) {
  volatile uint32_t *p = (volatile uint32_t *)address;
  double t0 = now();
  for (long i = 0; i < iterations; i++) p[i & mask] = (uint32_t)i;
  double t1 = now();
  return iterations / (t1 - t0);
}
