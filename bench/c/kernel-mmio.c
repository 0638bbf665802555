/*
 * Baseline for bench/kernel-mmio.bench.ts: 32-bit loads and stores through a MAP_SHARED mapping
 * of the memfd the Node process passes as fd 3, the same pages the JS side reads and writes.
 * usage: kernel-mmio <bytes> <iterations>; prints "read <ops/s>\nwrite <ops/s>".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size_t bytes = strtoull(argv[1], 0, 0);
  long iterations = strtol(argv[2], 0, 0);
  volatile uint32_t *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  if (p == MAP_FAILED) { perror("mmap"); return 1; }
  size_t words = bytes / 4, mask = words - 1; /* bytes is a power of two */
  uint32_t sum = 0;
  double t0 = now();
  for (long i = 0; i < iterations; i++) sum += p[i & mask];
  double t1 = now();
  for (long i = 0; i < iterations; i++) p[i & mask] = (uint32_t)i;
  double t2 = now();
  printf("read %.0f\nwrite %.0f\nsum %u\n", iterations / (t1 - t0), iterations / (t2 - t1), sum);
  return 0;
}
