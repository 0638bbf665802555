import { test } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { loadSocketLibc } from "../../../src/native/socket.js";
import { EFD_CLOEXEC, loadLibc } from "../../../src/native/libc.js";
import { encodeCommand, type Message } from "../../../src/user/protocol/message.js";
import { ScmTransport } from "../../../src/user/transport/scm-transport.js";

test("a message queued behind a full socket keeps its fds until it is sent, then reports it; order is kept", async (t) => {
  const [a, b] = loadSocketLibc().socketpair() as [number, number];
  const sender = new ScmTransport(a);
  const receiver = new ScmTransport(b);
  t.after(() => {
    sender.close();
    receiver.close();
  });
  const got: Message[] = [];
  sender.start({ message: () => {}, closed: () => {} });
  // Fill the socket before the receiver starts reading: sends queue up.
  const big = new Uint8Array(200 * 1024);
  for (let i = 0; i < 8; i++) sender.send(encodeCommand(i, 9, false, big));
  const efd = loadLibc().eventfd(0, EFD_CLOEXEC);
  let released = false;
  sender.send(encodeCommand(99, 9, false), [efd], () => {
    released = true;
  });
  assert.equal(released, false, "still queued: the fd must stay open");
  const done = new Promise<void>((resolve) => {
    receiver.start({
      message: (m) => {
        got.push(m);
        if (m.header.msgId === 99) resolve();
      },
      closed: () => {},
    });
  });
  await done;
  assert.equal(released, true);
  loadLibc().close(efd);
  assert.deepEqual(got.map((m) => m.header.msgId), [0, 1, 2, 3, 4, 5, 6, 7, 99]);
  const last = got.at(-1)!;
  assert.equal(last.fds.length, 1);
  assert.equal(readlinkSync(`/proc/self/fd/${last.fds[0]}`), "anon_inode:[eventfd]");
  loadLibc().close(last.fds[0]!);
});

test("closing a transport with queued messages releases their fds to their owners", () => {
  const [a, b] = loadSocketLibc().socketpair() as [number, number];
  const sender = new ScmTransport(a);
  sender.start({ message: () => {}, closed: () => {} });
  const big = new Uint8Array(200 * 1024);
  for (let i = 0; i < 8; i++) sender.send(encodeCommand(i, 9, false, big));
  let released = 0;
  sender.send(encodeCommand(99, 9, false), [0], () => released++);
  sender.close();
  assert.equal(released, 1);
  loadSocketLibc().close(b);
});
