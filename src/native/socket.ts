/**
 * UNIX-domain sockets with SCM_RIGHTS, through FFI: node:net cannot send or receive file
 * descriptors (nodejs/node#53391), and vfio-user passes DMA memory, eventfds and region fds as
 * SCM_RIGHTS ancillary data (vfio-user spec §"Transport"; VFIO-USER.md §1).
 *
 * Same convention as libc.ts: every call returns its result or `-errno`, errno read right
 * after the call. The kernel structs (msghdr, iovec, cmsghdr, sockaddr_un) are declared as
 * data with abi/struct.ts in their natural x86-64 layout. Every buffer whose address goes into
 * a msghdr is backed by an off-heap ArrayBuffer (never a small on-heap typed array, which V8
 * may move), and is owned by the caller for as long as the call runs.
 */
import { bytes, i32, struct, u16, u32, u64 } from "../abi/struct.js";
import { koffi, libcLibrary } from "./ffi.js";
import type { FdEvents, FdWatch } from "./fd-watch.js";
import { loadLibc } from "./libc.js";

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const MSG_CTRUNC = 0x8;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SHUT_RDWR = 2;
export const POLLOUT = 0x4;
/** fcntl(2) commands and flags (asm-generic/fcntl.h, linux/fcntl.h). */
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GET_SEALS = 1034;
export const F_SEAL_SHRINK = 0x2;
export const O_NONBLOCK = 0o4000;
/** Most fds one SCM_RIGHTS message may carry (include/net/scm.h SCM_MAX_FD). */
export const SCM_MAX_FD = 253;

/** struct msghdr (x86-64, natural alignment: 56 bytes). */
export const msghdrLayout = struct("msghdr", {
  msgName: u64, msgNamelen: u32, msgIov: u64, msgIovlen: u64, msgControl: u64, msgControllen: u64, msgFlags: i32,
});
/** struct iovec. */
export const iovecLayout = struct("iovec", { iovBase: u64, iovLen: u64 });
/** struct cmsghdr; the data starts at CMSG_DATA = 16. */
export const cmsghdrLayout = struct("cmsghdr", { cmsgLen: u64, cmsgLevel: i32, cmsgType: i32 });
/** struct sockaddr_un. */
export const sockaddrUnLayout = struct("sockaddr_un", { sunFamily: u16, sunPath: bytes(108) });

/** CMSG_LEN(n): header plus n bytes of data. */
export function cmsgLen(n: number): number {
  return cmsghdrLayout.size + n;
}
/** CMSG_SPACE(n): header plus n bytes rounded up to sizeof(long). */
export function cmsgSpace(n: number): number {
  return cmsghdrLayout.size + Math.ceil(n / 8) * 8;
}

/** Events a watch awaits or reports (fd-watch.ts). */
export type SocketEvents = FdEvents;
/** A watch on a socket (fd-watch.ts). */
export type SocketWatch = FdWatch;

/** What recvmsg brought. */
export interface Received {
  /** Bytes read; 0 at end of stream. */
  readonly bytes: number;
  /** The fds that rode with them (already O_CLOEXEC). */
  readonly fds: number[];
  /** MSG_CTRUNC: the peer sent more fds than there was room for; the extra ones were closed by the kernel. */
  readonly truncated: boolean;
}

export interface SocketLibc {
  /** socket(AF_UNIX, SOCK_STREAM | NONBLOCK | CLOEXEC, 0). */
  socket(): number;
  /** socketpair(AF_UNIX, SOCK_STREAM | NONBLOCK | CLOEXEC); -errno on failure. */
  socketpair(): [number, number] | number;
  bind(fd: number, path: string): number;
  listen(fd: number, backlog: number): number;
  /** accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC. */
  accept(fd: number): number;
  connect(fd: number, path: string): number;
  /** One sendmsg of `data` with `fds` as SCM_RIGHTS (MSG_NOSIGNAL | MSG_DONTWAIT); bytes sent or -errno. */
  sendmsg(fd: number, data: Uint8Array, fds: readonly number[]): number;
  /** One recvmsg into `into`, accepting up to `maxFds` fds (MSG_CMSG_CLOEXEC | MSG_DONTWAIT). */
  recvmsg(fd: number, into: Uint8Array, maxFds: number): Received | number;
  shutdown(fd: number, how: number): number;
  /** close(2) (libc.ts's). */
  close(fd: number): number;
  /** write(2), for signalling eventfds (libc.ts's). */
  write(fd: number, data: Uint8Array): number;
  /** poll(2) with timeout 0: whether a write to `fd` would not block now. */
  writableNow(fd: number): boolean;
  /** fcntl(2) with an int argument (F_GETFL, F_SETFL, F_GET_SEALS); the result or -errno. */
  fcntl(fd: number, command: number, arg: number): number;
  /** Watches `fd` on the event loop; `callback` runs while an awaited event holds (fd-watch.ts). */
  watch(fd: number, callback: (events: FdEvents) => void): FdWatch;
}

let loaded: SocketLibc | undefined;

/** The real socket calls, loaded on first use. */
export function loadSocketLibc(): SocketLibc {
  loaded ??= createSocketLibc();
  return loaded;
}

/** An off-heap buffer whose address stays put while it is referenced. */
function stable(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(Math.max(size, 128)), 0, size);
}

function createSocketLibc(): SocketLibc {
  const k = koffi();
  const lib = libcLibrary();
  // close, write and the event-loop watch are libc.ts's: declared once, shared.
  const libc = loadLibc();
  const errno = (): number => k.errno();
  const socket = lib.func("int socket(int domain, int type, int protocol)");
  const socketpair = lib.func("int socketpair(int domain, int type, int protocol, _Out_ int *sv)");
  const bind = lib.func("int bind(int fd, const void *addr, uint32_t len)");
  const listen = lib.func("int listen(int fd, int backlog)");
  const accept4 = lib.func("int accept4(int fd, void *addr, void *len, int flags)");
  const connect = lib.func("int connect(int fd, const void *addr, uint32_t len)");
  const sendmsg = lib.func("intptr_t sendmsg(int fd, const void *msg, int flags)");
  const recvmsg = lib.func("intptr_t recvmsg(int fd, void *msg, int flags)");
  const shutdown = lib.func("int shutdown(int fd, int how)");
  const poll = lib.func("int poll(_Inout_ void *fds, unsigned long nfds, int timeout)");
  const fcntl = lib.func("fcntl", "int", ["int", "int", "int"]);
  const pollfd = new Int16Array(new ArrayBuffer(128), 0, 4);
  const ok = (result: number | bigint): number => (Number(result) < 0 ? -errno() : Number(result));
  const address = (b: Uint8Array): bigint => BigInt(k.address(b) as unknown as bigint);

  // Scratch for the ancillary data and the msghdr/iovec: one set, reused by every call (calls
  // are synchronous, so no two overlap).
  const msg = stable(msghdrLayout.size);
  const iov = stable(iovecLayout.size);
  const control = stable(cmsgSpace(SCM_MAX_FD * 4));
  const msgAddress = address(msg);
  const iovAddress = address(iov);
  const controlAddress = address(control);
  const controlView = new DataView(control.buffer, control.byteOffset, control.byteLength);
  // The data buffer of a call: a caller's off-heap buffer is used in place; anything else is
  // copied into a scratch buffer that grows as needed.
  let sendScratch = stable(64 * 1024);
  const dataAddress = (data: Uint8Array): bigint => {
    if (data.buffer instanceof ArrayBuffer && data.buffer.byteLength >= 128) return address(data);
    if (sendScratch.byteLength < data.byteLength) sendScratch = stable(data.byteLength);
    sendScratch.set(data);
    return address(sendScratch);
  };

  const sockaddr = (path: string): Uint8Array | number => {
    const encoded = Buffer.from(path, "utf8");
    if (encoded.byteLength >= 108) return -36; // ENAMETOOLONG, as the kernel would say for sun_path
    const addr = stable(sockaddrUnLayout.size);
    sockaddrUnLayout.encode({ sunFamily: AF_UNIX, sunPath: encoded }, addr);
    return addr;
  };
  const addrLen = (path: string): number => 2 + Buffer.byteLength(path) + 1;

  return {
    socket: () => ok(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number),
    socketpair() {
      const sv = new Int32Array(2);
      const result = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) as number;
      return result < 0 ? -errno() : [sv[0]!, sv[1]!];
    },
    bind(fd, path) {
      const addr = sockaddr(path);
      return typeof addr === "number" ? addr : ok(bind(fd, addr, addrLen(path)) as number);
    },
    listen: (fd, backlog) => ok(listen(fd, backlog) as number),
    accept: (fd) => ok(accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC) as number),
    connect(fd, path) {
      const addr = sockaddr(path);
      return typeof addr === "number" ? addr : ok(connect(fd, addr, addrLen(path)) as number);
    },
    sendmsg(fd, data, fds) {
      if (fds.length > SCM_MAX_FD) return -22; // EINVAL, as the kernel answers (scm_fp_copy)
      iovecLayout.encode({ iovBase: dataAddress(data), iovLen: BigInt(data.byteLength) }, iov);
      let controllen = 0;
      if (fds.length > 0) {
        controllen = cmsgSpace(fds.length * 4);
        control.fill(0, 0, controllen);
        cmsghdrLayout.encode({ cmsgLen: BigInt(cmsgLen(fds.length * 4)), cmsgLevel: SOL_SOCKET, cmsgType: SCM_RIGHTS }, control);
        fds.forEach((f, i) => controlView.setInt32(cmsghdrLayout.size + 4 * i, f, true));
      }
      msghdrLayout.encode(
        { msgIov: iovAddress, msgIovlen: 1n, msgControl: controllen > 0 ? controlAddress : 0n, msgControllen: BigInt(controllen) },
        msg,
      );
      return ok(sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT) as number);
    },
    recvmsg(fd, into, maxFds) {
      const room = Math.min(Math.max(maxFds, 0), SCM_MAX_FD);
      const controllen = room > 0 ? cmsgSpace(room * 4) : 0;
      if (!(into.buffer instanceof ArrayBuffer) || into.buffer.byteLength < 128) throw new RangeError("recvmsg needs an off-heap buffer of at least 128 bytes");
      iovecLayout.encode({ iovBase: address(into), iovLen: BigInt(into.byteLength) }, iov);
      msghdrLayout.encode(
        { msgIov: iovAddress, msgIovlen: 1n, msgControl: controllen > 0 ? controlAddress : 0n, msgControllen: BigInt(controllen) },
        msg,
      );
      const n = ok(recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) as number);
      if (n < 0) return n;
      const header = msghdrLayout.decode(msg);
      const fds: number[] = [];
      // Walk the control messages the kernel wrote (CMSG_FIRSTHDR/CMSG_NXTHDR); only SCM_RIGHTS
      // is expected on these sockets, anything else is skipped.
      let at = 0;
      const used = Number(header.msgControllen);
      while (at + cmsghdrLayout.size <= used) {
        const c = cmsghdrLayout.decode(control, at);
        const len = Number(c.cmsgLen);
        if (len < cmsghdrLayout.size || at + len > used) break;
        if (c.cmsgLevel === SOL_SOCKET && c.cmsgType === SCM_RIGHTS) {
          for (let o = cmsghdrLayout.size; o + 4 <= len; o += 4) fds.push(controlView.getInt32(at + o, true));
        }
        at += cmsgSpace(len - cmsghdrLayout.size);
      }
      return { bytes: n, fds, truncated: (header.msgFlags & MSG_CTRUNC) !== 0 };
    },
    shutdown: (fd, how) => ok(shutdown(fd, how) as number),
    close: (fd) => libc.close(fd),
    write: (fd, data) => libc.write(fd, data),
    writableNow(fd) {
      // struct pollfd { int fd; short events; short revents; }
      new Int32Array(pollfd.buffer, 0, 1)[0] = fd;
      pollfd[2] = POLLOUT;
      pollfd[3] = 0;
      const n = poll(pollfd, 1, 0) as number;
      return n === 1 && (pollfd[3]! & POLLOUT) !== 0;
    },
    fcntl: (fd, command, arg) => ok(fcntl(fd, command, arg) as number),
    watch: (fd, callback) => libc.watch(fd, callback),
  };
}
