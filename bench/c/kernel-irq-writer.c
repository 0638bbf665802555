/*
 * The interrupt source of bench/kernel-irq.bench.ts: signals the eventfd on fd 3 <samples>
 * times, ~100 µs apart, stamping CLOCK_MONOTONIC into the page on fd 4 just before each
 * write(2), as the kernel's eventfd_signal does when VFIO forwards an interrupt; then waits for
 * the receiver's ack. The same writer drives the TS receiver and the C one (kernel-irq.c), so
 * only the receiving side differs. usage: kernel-irq-writer <samples>.
 *
 * The page: the stamp (int64 at 0), the ack (int32 at 8), "receiver ready" (int32 at 12).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct shared {
  _Atomic int64_t stamp;
  _Atomic int32_t ack;
  _Atomic int32_t ready;
};

static int64_t now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  long samples = strtol(argv[1], 0, 0);
  struct shared *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 4, 0);
  if (s == MAP_FAILED || samples <= 0) return 2;
  while (!atomic_load(&s->ready)) sched_yield();
  struct timespec gap = {0, 100000};
  for (long i = 0; i < samples; i++) {
    nanosleep(&gap, 0);
    atomic_store(&s->ack, 0);
    atomic_store(&s->stamp, now());
    uint64_t one = 1;
    if (write(3, &one, 8) != 8) return 1;
    while (!atomic_load(&s->ack)) sched_yield();
  }
  return 0;
}
