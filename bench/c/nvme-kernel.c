/*
 * The baseline of the NVMe bench: 4 KiB random reads through the Linux kernel's nvme driver,
 * O_DIRECT on the block device, queue depth N kept full with Linux native AIO (io_setup,
 * io_submit, io_getevents as raw system calls: <linux/aio_abi.h>, no libaio needed), as fio's
 * `ioengine=libaio direct=1 rw=randread` does. Prints "iops N p50 U p99 U" (latencies in µs).
 *
 * Usage: nvme-kernel DEVICE QUEUE_DEPTH SECONDS [BLOCK_SIZE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static uint32_t rng = 1;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s DEVICE QUEUE_DEPTH SECONDS [BLOCK_SIZE]\n", argv[0]);
    return 2;
  }
  int depth = atoi(argv[2]);
  double seconds = atof(argv[3]);
  size_t block = argc > 4 ? (size_t)atol(argv[4]) : 4096;
  int fd = open(argv[1], O_RDONLY | O_DIRECT);
  if (fd < 0) { perror("open"); return 1; }
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) { perror("BLKGETSIZE64"); return 1; }
  uint64_t span = bytes / block;
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, depth, &ctx) < 0) { perror("io_setup"); return 1; }
  struct iocb *iocbs = calloc(depth, sizeof *iocbs);
  double *started = calloc(depth, sizeof *started);
  size_t cap = 1 << 22, recorded = 0;
  double *lat = malloc(cap * sizeof *lat);
  char *buf;
  if (posix_memalign((void **)&buf, 4096, block * depth)) return 1;
  struct io_event *events = calloc(depth, sizeof *events);
  long completed = 0, inflight = 0;
  double t0 = now_us(), stop = t0 + seconds * 1e6;
  for (int i = 0; i < depth; i++) {
    struct iocb *cb = &iocbs[i], *list[1] = { cb };
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_lio_opcode = IOCB_CMD_PREAD;
    cb->aio_buf = (uint64_t)(uintptr_t)(buf + i * block);
    cb->aio_nbytes = block;
    cb->aio_offset = (int64_t)((next_random() % span) * block);
    cb->aio_data = i;
    started[i] = now_us();
    if (syscall(SYS_io_submit, ctx, 1, list) != 1) { perror("io_submit"); return 1; }
    inflight++;
  }
  int stopping = 0;
  while (inflight > 0) {
    long n = syscall(SYS_io_getevents, ctx, 1, depth, events, NULL);
    if (n < 0) { perror("io_getevents"); return 1; }
    double t = now_us();
    for (long e = 0; e < n; e++) {
      int i = (int)events[e].data;
      inflight--;
      completed++;
      if ((long)events[e].res != (long)block) { fprintf(stderr, "read failed: %lld\n", (long long)events[e].res); return 1; }
      if (recorded < cap) lat[recorded++] = t - started[i];
      if (t >= stop) stopping = 1;
      if (stopping) continue;
      struct iocb *cb = &iocbs[i], *list[1] = { cb };
      cb->aio_offset = (int64_t)((next_random() % span) * block);
      started[i] = now_us();
      if (syscall(SYS_io_submit, ctx, 1, list) != 1) { perror("io_submit"); return 1; }
      inflight++;
    }
  }
  double elapsed = (now_us() - t0) / 1e6;
  qsort(lat, recorded, sizeof *lat, compare);
  printf("iops %.0f p50 %.1f p99 %.1f\n", completed / elapsed, lat[recorded / 2], lat[(size_t)(recorded * 0.99)]);
  syscall(SYS_io_destroy, ctx);
  close(fd);
  return 0;
}
