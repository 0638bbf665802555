/**
 * One client cannot hold the server: a client that never completes VERSION, or leaves a
 * message half-sent, is dropped after a timeout, and the queue of waiting clients is bounded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { vfioUserHeaderLayout } from "../../../src/abi/vfio-user/header.js";
import { loadSocketLibc } from "../../../src/native/socket.js";
import { VfioUserClient } from "../../../src/user/client.js";
import { encodeCommand } from "../../../src/user/protocol/message.js";
import { encodeVersion } from "../../../src/user/protocol/version.js";
import { serve } from "../loopback.js";

const s = loadSocketLibc();
const ETIMEDOUT = 110;

function rawConnect(t: import("node:test").TestContext, socketPath: string): number {
  const fd = s.socket();
  assert.ok(fd >= 0);
  t.after(() => s.close(fd));
  assert.equal(s.connect(fd, socketPath), 0);
  return fd;
}

const errnoOf = (e: Error | undefined): number | undefined => (e as { errno?: number } | undefined)?.errno;

test("a client that connects and says nothing is dropped after the handshake timeout; the next is served", { timeout: 20_000 }, async (t) => {
  const left: (Error | undefined)[] = [];
  const { server, socketPath } = await serve(t, { handshakeTimeoutMs: 300, onDisconnect: (e) => left.push(e) });
  rawConnect(t, socketPath);
  const client = await VfioUserClient.connect(socketPath);
  t.after(() => client.close());
  assert.equal(server.served, 2);
  assert.equal(errnoOf(left[0]), ETIMEDOUT);
});

test("a message left half-sent is dropped after the message timeout", { timeout: 20_000 }, async (t) => {
  const left: (Error | undefined)[] = [];
  const { socketPath } = await serve(t, { messageTimeoutMs: 300, onDisconnect: (e) => left.push(e) });
  const fd = rawConnect(t, socketPath);
  assert.ok(s.sendmsg(fd, encodeCommand(0, VfioUserCommand.VERSION, false, encodeVersion(0, 2, {})), []) > 0);
  const header = vfioUserHeaderLayout.encode({ msgId: 1, command: VfioUserCommand.DEVICE_GET_INFO, msgSize: 1000, flags: 0, error: 0 });
  assert.equal(s.sendmsg(fd, header, []), 16);
  const client = await VfioUserClient.connect(socketPath);
  t.after(() => client.close());
  assert.equal(errnoOf(left[0]), ETIMEDOUT);
});

test("past the queue limit, a waiting client is turned away at once", { timeout: 20_000 }, async (t) => {
  const { server, socketPath } = await serve(t, { maxQueuedClients: 1 });
  const first = await VfioUserClient.connect(socketPath);
  t.after(() => first.close());
  const waiting = rawConnect(t, socketPath);
  const turnedAway = rawConnect(t, socketPath);
  const buf = new Uint8Array(new ArrayBuffer(256));
  let closed = false;
  for (let i = 0; i < 300 && !closed; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const got = s.recvmsg(turnedAway, buf, 0);
    closed = typeof got !== "number" && got.bytes === 0;
  }
  assert.ok(closed, "the third client was not closed");
  assert.equal(s.recvmsg(waiting, buf, 0), -11 /* still waiting: EAGAIN */);
  assert.equal(server.served, 1);
});
