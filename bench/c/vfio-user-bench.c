/*
 * A minimal vfio-user client in C, for benchmarks and wire checks: no libvfio-user, only the
 * protocol as the spec and libvfio-user's sample client speak it (one sendmsg per message,
 * header and payload together, VERSION 0.2 with a JSON capability string).
 *
 *   vfio-user-bench SOCKET read REGION OFFSET COUNT SECONDS DEPTH
 *       REGION_READ round trips: DEPTH=1 one at a time, else DEPTH in flight.
 *       Prints: "ops=N seconds=S median_ns=M" (median of one-at-a-time round trips).
 *
 * Part of vfio-ts's benchmarks (bench/user-region-read.bench.ts compiles it with gcc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct hdr {
    uint16_t msg_id;
    uint16_t cmd;
    uint32_t msg_size;
    uint32_t flags;
    uint32_t error_no;
} __attribute__((packed));

struct region_access {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
} __attribute__((packed));

#define VERSION 1
#define REGION_READ 9
#define F_ERROR 0x20

static int sock;
static unsigned char rbuf[1 << 21];
static size_t rlen;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void send_all(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = send(sock, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("send");
            exit(1);
        }
        p += n;
        len -= n;
    }
}

/* Receives one whole message into rbuf (reading ahead as much as the socket has). */
static struct hdr *recv_msg(void)
{
    static size_t consumed;
    if (consumed > 0) {
        memmove(rbuf, rbuf + consumed, rlen - consumed);
        rlen -= consumed;
        consumed = 0;
    }
    for (;;) {
        if (rlen >= sizeof(struct hdr)) {
            struct hdr *h = (struct hdr *)rbuf;
            if (h->msg_size < sizeof(struct hdr) || h->msg_size > sizeof(rbuf)) {
                fprintf(stderr, "bad msg_size %u\n", h->msg_size);
                exit(1);
            }
            if (rlen >= h->msg_size) {
                consumed = h->msg_size;
                return h;
            }
        }
        ssize_t n = recv(sock, rbuf + rlen, sizeof(rbuf) - rlen, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            fprintf(stderr, "connection closed\n");
            exit(1);
        }
        rlen += n;
    }
}

static void negotiate(void)
{
    const char *json = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
    unsigned char msg[256];
    struct hdr *h = (struct hdr *)msg;
    size_t jl = strlen(json) + 1;
    h->msg_id = 0;
    h->cmd = VERSION;
    h->msg_size = sizeof(*h) + 4 + jl;
    h->flags = 0;
    h->error_no = 0;
    uint16_t v[2] = {0, 2};
    memcpy(msg + sizeof(*h), v, 4);
    memcpy(msg + sizeof(*h) + 4, json, jl);
    send_all(msg, h->msg_size);
    struct hdr *r = recv_msg();
    if (r->flags & F_ERROR) {
        fprintf(stderr, "VERSION refused: %u\n", r->error_no);
        exit(1);
    }
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 8 || strcmp(argv[2], "read") != 0) {
        fprintf(stderr, "usage: %s SOCKET read REGION OFFSET COUNT SECONDS DEPTH\n", argv[0]);
        return 2;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("connect");
        return 1;
    }
    negotiate();
    uint32_t region = strtoul(argv[3], NULL, 0);
    uint64_t offset = strtoull(argv[4], NULL, 0);
    uint32_t count = strtoul(argv[5], NULL, 0);
    double seconds = atof(argv[6]);
    int depth = atoi(argv[7]);

    unsigned char msg[sizeof(struct hdr) + sizeof(struct region_access)];
    struct hdr *h = (struct hdr *)msg;
    struct region_access *ra = (struct region_access *)(msg + sizeof(*h));
    h->cmd = REGION_READ;
    h->msg_size = sizeof(msg);
    h->flags = 0;
    h->error_no = 0;
    ra->offset = offset;
    ra->region = region;
    ra->count = count;

    size_t max_samples = 1 << 22, nsamples = 0;
    uint64_t *samples = depth == 1 ? malloc(max_samples * sizeof(uint64_t)) : NULL;
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    uint64_t ops = 0, sent = 0;
    uint16_t id = 0;
    for (int i = 0; i < depth; i++) {
        h->msg_id = id++;
        send_all(msg, sizeof(msg));
        sent++;
    }
    uint64_t t0 = now_ns();
    for (;;) {
        struct hdr *r = recv_msg();
        if (r->flags & F_ERROR) {
            fprintf(stderr, "REGION_READ failed: %u\n", r->error_no);
            return 1;
        }
        if (r->msg_size != sizeof(msg) + count) {
            fprintf(stderr, "short reply %u\n", r->msg_size);
            return 1;
        }
        ops++;
        uint64_t t = now_ns();
        if (samples && nsamples < max_samples)
            samples[nsamples++] = t - t0;
        if (t >= end) {
            if (ops + 0 == sent)
                break;
            continue; /* drain the ones in flight */
        }
        h->msg_id = id++;
        t0 = now_ns();
        send_all(msg, sizeof(msg));
        sent++;
    }
    double elapsed = (now_ns() - start) / 1e9;
    uint64_t median = 0;
    if (samples && nsamples > 0) {
        qsort(samples, nsamples, sizeof(uint64_t), cmp);
        median = samples[nsamples / 2];
    }
    printf("ops=%llu seconds=%.6f median_ns=%llu\n", (unsigned long long)ops, elapsed, (unsigned long long)median);
    return 0;
}
