import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadSocketLibc, type Received } from "../../src/native/socket.js";
import { loadLibc, EFD_CLOEXEC } from "../../src/native/libc.js";

const openFds = (): number => readdirSync("/proc/self/fd").length;
const big = (n: number): Uint8Array => new Uint8Array(new ArrayBuffer(Math.max(n, 128)), 0, n);

test("socketpair carries bytes and an SCM_RIGHTS fd in one sendmsg/recvmsg", () => {
  const s = loadSocketLibc();
  const pair = s.socketpair();
  assert.ok(Array.isArray(pair));
  const [a, b] = pair;
  const efd = loadLibc().eventfd(0, EFD_CLOEXEC);
  const before = openFds();
  assert.equal(s.sendmsg(a, new Uint8Array([1, 2, 3, 4, 5]), [efd]), 5);
  const into = big(4096);
  const got = s.recvmsg(b, into, 8) as Received;
  assert.equal(got.bytes, 5);
  assert.deepEqual([...into.subarray(0, 5)], [1, 2, 3, 4, 5]);
  assert.equal(got.fds.length, 1);
  assert.equal(got.truncated, false);
  assert.match(readlinkSync(`/proc/self/fd/${got.fds[0]}`), /eventfd/);
  assert.equal(openFds(), before + 1);
  for (const fd of [a, b, efd, ...got.fds]) s.close(fd);
});

test("recvmsg on an empty non-blocking socket answers -EAGAIN", () => {
  const s = loadSocketLibc();
  const [a, b] = s.socketpair() as [number, number];
  assert.equal(s.recvmsg(b, big(128), 0), -11);
  s.close(a);
  s.close(b);
});

test("more fds than the receiver has room for set MSG_CTRUNC and leave no fd behind", () => {
  const s = loadSocketLibc();
  const libc = loadLibc();
  const [a, b] = s.socketpair() as [number, number];
  const fds = [0, 1, 2].map(() => libc.eventfd(0, EFD_CLOEXEC));
  const before = openFds();
  assert.equal(s.sendmsg(a, new Uint8Array([9]), fds), 1);
  const got = s.recvmsg(b, big(128), 1) as Received;
  assert.equal(got.truncated, true);
  assert.equal(openFds(), before + got.fds.length);
  for (const fd of [a, b, ...fds, ...got.fds]) s.close(fd);
});

test("bind/listen/connect/accept on a path", () => {
  const s = loadSocketLibc();
  const dir = mkdtempSync(path.join(tmpdir(), "vfio-sock-"));
  try {
    const socketPath = path.join(dir, "s");
    const l = s.socket();
    assert.equal(s.bind(l, socketPath), 0);
    assert.equal(s.listen(l, 4), 0);
    const c = s.socket();
    assert.equal(s.connect(c, socketPath), 0);
    const a = s.accept(l);
    assert.ok(a >= 0);
    assert.equal(s.sendmsg(c, new Uint8Array([7]), []), 1);
    const into = big(128);
    assert.equal((s.recvmsg(a, into, 0) as Received).bytes, 1);
    assert.equal(into[0], 7);
    const lonely = s.socket();
    assert.equal(s.connect(lonely, path.join(dir, "none")), -2);
    for (const fd of [l, c, a, lonely]) s.close(fd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
