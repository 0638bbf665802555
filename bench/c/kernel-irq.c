/*
 * Baseline and signal source for bench/kernel-irq.bench.ts: eventfd signal → handler latency.
 *
 *   kernel-irq writer <samples>   signals the eventfd on fd 3 <samples> times, ~100 µs apart;
 *                                 each time it stamps CLOCK_MONOTONIC into the page on fd 4
 *                                 just before the write (as the kernel's eventfd_signal does
 *                                 for an interrupt VFIO forwards), then waits for the ack.
 *   kernel-irq receive <samples>  the C receiver: epoll_wait on fd 3, read the counter, stamp,
 *                                 ack; prints "median <ns>\np99 <ns>".
 *
 * The same writer drives the C receiver and the TS one (the Node process), so both sides see
 * the same signal path and only the receiver differs. The page on fd 4 holds the stamp (int64 at
 * 0), the ack (int32 at 8) and a "receiver ready" flag (int32 at 12).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

static int compare(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int writer(struct shared *s, long samples) {
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

static int receive(struct shared *s, long samples) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 3};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 3, &ev)) return 1;
  int64_t *lat = calloc(samples, sizeof *lat);
  atomic_store(&s->ready, 1);
  for (long i = 0; i < samples; i++) {
    struct epoll_event out;
    while (epoll_wait(ep, &out, 1, -1) != 1) {}
    uint64_t count;
    if (read(3, &count, 8) != 8) return 1;
    lat[i] = now() - atomic_load(&s->stamp);
    atomic_store(&s->ack, 1);
  }
  qsort(lat, samples, sizeof *lat, compare);
  printf("median %lld\np99 %lld\n", (long long)lat[(samples + 1) / 2 - 1], (long long)lat[(samples * 99 + 99) / 100 - 1]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long samples = strtol(argv[2], 0, 0);
  struct shared *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 4, 0);
  if (s == MAP_FAILED || samples <= 0) return 2;
  if (!strcmp(argv[1], "writer")) return writer(s, samples);
  if (!strcmp(argv[1], "receive")) return receive(s, samples);
  return 2;
}
