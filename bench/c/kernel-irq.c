/*
 * Baseline for bench/kernel-irq.bench.ts: eventfd signal → handler latency with a C epoll loop.
 * A writer thread stamps CLOCK_MONOTONIC and writes the eventfd (as the kernel's
 * eventfd_signal does for an interrupt); the main thread waits in epoll_wait, reads the
 * eventfd and stamps again. usage: kernel-irq <samples>; prints "median <ns>\np99 <ns>".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int efd;
static long samples;
static _Atomic int64_t stamp;
static _Atomic int ack;

static int64_t now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *writer(void *arg) {
  (void)arg;
  struct timespec gap = {0, 100000};
  for (long i = 0; i < samples; i++) {
    nanosleep(&gap, 0);
    atomic_store(&ack, 0);
    atomic_store(&stamp, now());
    uint64_t one = 1;
    if (write(efd, &one, 8) != 8) abort();
    while (!atomic_load(&ack)) sched_yield();
  }
  return 0;
}

static int compare(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  samples = argc > 1 ? strtol(argv[1], 0, 0) : 3000;
  efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  int64_t *lat = calloc(samples, sizeof *lat);
  pthread_t t;
  pthread_create(&t, 0, writer, 0);
  for (long i = 0; i < samples; i++) {
    struct epoll_event out;
    while (epoll_wait(ep, &out, 1, -1) != 1) {}
    uint64_t count;
    if (read(efd, &count, 8) != 8) abort();
    lat[i] = now() - atomic_load(&stamp);
    atomic_store(&ack, 1);
  }
  pthread_join(t, 0);
  qsort(lat, samples, sizeof *lat, compare);
  printf("median %lld\np99 %lld\n", (long long)lat[samples / 2], (long long)lat[samples * 99 / 100]);
  return 0;
}
