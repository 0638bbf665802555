/*
 * A vfio-user client in C that speaks as libvfio-user's sample client (samples/client.c)
 * does, run against a server hosting QEMU's edu: VERSION 0.2 with a JSON capability string,
 * a bogus region access (EINVAL expected), DEVICE_GET_INFO, GET_REGION_INFO for every region
 * with the argsz retry and fds received by SCM_RIGHTS, config space, DEVICE_RESET, sixteen
 * one-page DMA_MAPs of one file at increasing offsets each with the fd, GET_IRQ_INFO for
 * every index, SET_IRQS INTx with a (blocking) eventfd, DMA logging start, edu DMA into the
 * second page, the interrupt read from the eventfd, the dirty bitmap, logging stop, and
 * DMA_UNMAP of the first eight windows. Each message goes out as one sendmsg with its fds.
 *
 *   vfio-user-check SOCKET      prints "ok" and exits 0, or says what failed and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct hdr {
    uint16_t msg_id, cmd;
    uint32_t msg_size, flags, error_no;
} __attribute__((packed));

enum { VERSION = 1, DMA_MAP, DMA_UNMAP, DEVICE_GET_INFO, DEVICE_GET_REGION_INFO, GET_REGION_IO_FDS,
       DEVICE_GET_IRQ_INFO, DEVICE_SET_IRQS, REGION_READ, REGION_WRITE, DMA_READ, DMA_WRITE, DEVICE_RESET,
       DEVICE_FEATURE = 16 };

#define F_ERROR 0x20
#define PAGE 4096
#define NR_DMA 16

static int sock;
static uint16_t next_id = 0x1000;

static void fail(const char *what)
{
    fprintf(stderr, "vfio-user-check: %s\n", what);
    exit(1);
}

/* One message: header + payload in one sendmsg, fds as SCM_RIGHTS. */
static void send_msg(uint16_t id, uint16_t cmd, const void *payload, size_t len, const int *fds, size_t nfds)
{
    struct hdr h = {.msg_id = id, .cmd = cmd, .msg_size = sizeof(h) + len};
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, len}};
    char control[CMSG_SPACE(sizeof(int) * 8)] = {0};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (nfds) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    if (sendmsg(sock, &msg, 0) != (ssize_t)h.msg_size)
        fail("sendmsg");
}

/* The reply: header by recvmsg (with any fds), then the body, as libvfio-user receives. */
static int recv_reply(uint16_t id, void *out, size_t max, size_t *got, int *fds, size_t *nfds)
{
    struct hdr h;
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {&h, sizeof(h)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    if (recvmsg(sock, &msg, MSG_WAITALL) != sizeof(h))
        fail("recvmsg of a header");
    size_t n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (fds && nfds && k <= 8) {
                memcpy(fds, CMSG_DATA(c), k * sizeof(int));
                n = k;
            }
        }
    }
    if (nfds)
        *nfds = n;
    if (h.msg_id != id)
        fail("reply to another message");
    size_t body = h.msg_size - sizeof(h);
    char buf[1 << 16];
    if (body > sizeof(buf))
        fail("reply too large");
    if (body && recv(sock, buf, body, MSG_WAITALL) != (ssize_t)body)
        fail("short reply body");
    if (got)
        *got = body;
    if (out)
        memcpy(out, buf, body < max ? body : max);
    return (h.flags & F_ERROR) ? -(int)h.error_no : 0;
}

static int request(uint16_t cmd, const void *in, size_t len, const int *fds, size_t nfds, void *out, size_t max)
{
    uint16_t id = next_id++;
    send_msg(id, cmd, in, len, fds, nfds);
    return recv_reply(id, out, max, NULL, NULL, NULL);
}

struct region_access { uint64_t offset; uint32_t region, count; } __attribute__((packed));

static int region_rw(int write, uint32_t region, uint64_t offset, void *data, uint32_t count)
{
    char msg[sizeof(struct region_access) + 64];
    struct region_access *ra = (void *)msg;
    ra->offset = offset;
    ra->region = region;
    ra->count = count;
    if (write)
        memcpy(msg + sizeof(*ra), data, count);
    char reply[sizeof(struct region_access) + 64];
    int r = request(write ? REGION_WRITE : REGION_READ, msg, sizeof(*ra) + (write ? count : 0), NULL, 0, reply, sizeof(reply));
    if (r == 0 && !write)
        memcpy(data, reply + sizeof(*ra), count);
    return r;
}

static void write64(uint64_t off, uint64_t v)
{
    if (region_rw(1, 0, off, &v, 8))
        fail("edu register write");
}

static uint32_t read32(uint64_t off)
{
    uint32_t v;
    if (region_rw(0, 0, off, &v, 4))
        fail("edu register read");
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        fail("usage: vfio-user-check SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)))
        fail("connect");

    /* VERSION 0.2, the sample client's capabilities. */
    const char *json = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,\"migration\":{\"pgsize\":4096}}}";
    char ver[256];
    uint16_t v[2] = {0, 2};
    memcpy(ver, v, 4);
    strcpy(ver + 4, json);
    char vreply[512] = {0};
    if (request(VERSION, ver, 4 + strlen(json) + 1, NULL, 0, vreply, sizeof(vreply) - 1))
        fail("VERSION");
    if (((uint16_t *)vreply)[0] != 0 || ((uint16_t *)vreply)[1] != 2 || !strstr(vreply + 4, "\"max_msg_fds\""))
        fail("VERSION reply");

    uint32_t dummy;
    if (region_rw(0, 0xdeadbeef, 0, &dummy, sizeof(dummy)) != -EINVAL)
        fail("a bogus region is not EINVAL");

    uint32_t info[4] = {16, 0, 0, 0};
    if (request(DEVICE_GET_INFO, info, 16, NULL, 0, info, 16) || info[2] != 9 || info[3] != 5)
        fail("DEVICE_GET_INFO");

    for (uint32_t i = 0; i < info[2]; i++) {
        struct { uint32_t argsz, flags, index, cap_offset; uint64_t size, offset; } __attribute__((packed)) ri = {32, 0, i, 0, 0, 0};
        char reply[1024];
        int fds[8];
        size_t nfds, got;
        uint16_t id = next_id++;
        send_msg(id, DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0);
        if (recv_reply(id, reply, sizeof(reply), &got, fds, &nfds))
            fail("GET_REGION_INFO");
        memcpy(&ri, reply, sizeof(ri));
        if (ri.argsz > 32) {
            /* The sample client retries with the argsz the server asked for. */
            id = next_id++;
            uint32_t argsz = ri.argsz;
            ri.argsz = argsz;
            send_msg(id, DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0);
            if (recv_reply(id, reply, sizeof(reply), &got, fds, &nfds))
                fail("GET_REGION_INFO retry");
        }
        for (size_t k = 0; k < nfds; k++)
            close(fds[k]);
    }

    unsigned char config[64];
    if (region_rw(0, 7, 0, config, sizeof(config)) || config[0] != 0x34 || config[1] != 0x12 || config[2] != 0xe8 || config[3] != 0x11)
        fail("config space is not edu's");

    if (request(DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0))
        fail("DEVICE_RESET");

    /* Sixteen one-page windows of one file, at offsets 0, 4096, ... (as the sample maps). */
    char template[] = "/tmp/vfio-user-check.XXXXXX";
    int tmpfd = mkstemp(template);
    if (tmpfd < 0 || ftruncate(tmpfd, NR_DMA * PAGE))
        fail("backing file");
    unlink(template);
    for (int i = 0; i < NR_DMA; i++) {
        struct { uint32_t argsz, flags; uint64_t offset, addr, size; } __attribute__((packed)) m =
            {32, 3, (uint64_t)i * PAGE, 0x100000 + (uint64_t)i * PAGE, PAGE};
        if (request(DMA_MAP, &m, sizeof(m), &tmpfd, 1, NULL, 0))
            fail("DMA_MAP");
    }

    for (uint32_t i = 0; i < info[3]; i++) {
        uint32_t irq[4] = {16, 0, i, 0};
        if (request(DEVICE_GET_IRQ_INFO, irq, 16, NULL, 0, irq, 16))
            fail("GET_IRQ_INFO");
    }
    int irq_fd = eventfd(0, 0); /* blocking, as the sample client's */
    uint32_t set[5] = {20, 0x24, 0, 0, 1};
    if (request(DEVICE_SET_IRQS, set, 20, &irq_fd, 1, NULL, 0))
        fail("SET_IRQS");

    struct { uint32_t argsz, flags; uint64_t page_size; uint32_t num_ranges, reserved; } __attribute__((packed)) log =
        {24, 6 | (1 << 17), PAGE, 0, 0};
    if (request(DEVICE_FEATURE, &log, sizeof(log), NULL, 0, NULL, 0))
        fail("DMA_LOGGING_START");

    /* Memory and bus master on; edu writes 16 bytes of its buffer into window 1, raising INTx. */
    uint16_t cmd = 0x6;
    if (region_rw(1, 7, 4, &cmd, 2))
        fail("config write");
    unsigned char pattern[16];
    for (int i = 0; i < 16; i++)
        pattern[i] = 0xa0 + i;
    /* Window 0 → edu buffer, then edu buffer → window 1. */
    if (pwrite(tmpfd, pattern, 16, 0) != 16)
        fail("pwrite");
    write64(0x80, 0x100000);
    write64(0x88, 0x40000);
    write64(0x90, 16);
    write64(0x98, 1);
    while (read32(0x98) & 1)
        ;
    write64(0x80, 0x40000);
    write64(0x88, 0x100000 + PAGE);
    write64(0x98, 1 | 2 | 4);
    uint64_t count;
    if (read(irq_fd, &count, 8) != 8 || count < 1)
        fail("no interrupt on the eventfd");
    unsigned char back[16];
    if (pread(tmpfd, back, 16, PAGE) != 16 || memcmp(back, pattern, 16))
        fail("the DMA did not reach window 1");

    struct { uint32_t argsz, flags; uint64_t iova, length, page_size; uint64_t bitmap; } __attribute__((packed)) rep =
        {40, 8 | (1 << 16), 0x100000, NR_DMA * PAGE, PAGE, 0};
    char rreply[64];
    if (request(DEVICE_FEATURE, &rep, 32, NULL, 0, rreply, sizeof(rreply)))
        fail("DMA_LOGGING_REPORT");
    uint64_t bitmap;
    memcpy(&bitmap, rreply + 32, 8);
    if (bitmap != 0x2)
        fail("the dirty bitmap is not page 1 only");
    log.flags = 7 | (1 << 17);
    if (request(DEVICE_FEATURE, &log, 8, NULL, 0, NULL, 0))
        fail("DMA_LOGGING_STOP");

    for (int i = 0; i < NR_DMA / 2; i++) {
        struct { uint32_t argsz, flags; uint64_t addr, size; } __attribute__((packed)) u = {24, 0, 0x100000 + (uint64_t)i * PAGE, PAGE};
        char ur[24];
        if (request(DMA_UNMAP, &u, sizeof(u), NULL, 0, ur, sizeof(ur)))
            fail("DMA_UNMAP");
    }
    close(irq_fd);
    close(tmpfd);
    close(sock);
    printf("ok\n");
    return 0;
}
