/*
 * The C receiver of bench/kernel-irq.bench.ts, loaded through koffi and run on the Node main
 * thread itself (the thread whose event loop the TS receiver waits in): epoll_wait on the
 * eventfd, read its counter, stamp, ack, as a C interrupt loop does. The writer is
 * kernel-irq-writer.c in its own process; the shared page is laid out as it says.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
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

/* Receives `samples` signals on `efd`, storing each latency (ns) in `latencies`; 0, or -1 on failure. */
int irq_receive(int efd, uintptr_t page, long samples, int64_t *latencies) {
  struct shared *s = (struct shared *)page;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) return -1;
  atomic_store(&s->ready, 1);
  for (long i = 0; i < samples; i++) {
    struct epoll_event out;
    while (epoll_wait(ep, &out, 1, -1) != 1) {}
    uint64_t count;
    if (read(efd, &count, 8) != 8) return close(ep), -1;
    latencies[i] = now() - atomic_load(&s->stamp);
    atomic_store(&s->ack, 1);
  }
  close(ep);
  return 0;
}
