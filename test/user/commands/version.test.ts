import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { deviceInfoLayout } from "../../../src/abi/vfio-user/messages.js";
import { encodeVersion, parseVersion } from "../../../src/user/protocol/version.js";
import { loadLibc, EFD_CLOEXEC } from "../../../src/native/libc.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const withJson = (json: string, nul = true): Uint8Array => {
  const body = text(json);
  const out = new Uint8Array(4 + body.byteLength + (nul ? 1 : 0));
  out.set([0, 0, 2, 0]);
  out.set(body, 4);
  return out;
};

test("VERSION: the server answers 0.2 with libvfio-user's capabilities and write_multiple", async (t) => {
  const peer = await rawPeer(t, { version: false });
  const reply = await peer.version({ maxMsgFds: 4 });
  assert.equal(errnoOf(reply), 0);
  const v = parseVersion(reply.payload);
  assert.deepEqual([v.major, v.minor], [0, 2]);
  assert.equal(v.capabilities.maxMsgFds, 8);
  assert.equal(v.capabilities.maxDataXferSize, 1 << 20);
  assert.equal(v.capabilities.writeMultiple, true);
  assert.equal(v.capabilities.twinSocket, undefined);
  assert.equal(reply.fds.length, 0);
});

test("VERSION: a higher minor is answered with ours; twin_socket offered gets an fd and fd_index 0", async (t) => {
  const peer = await rawPeer(t, { version: false });
  const reply = await peer.request(VfioUserCommand.VERSION, [encodeVersion(0, 7, { twinSocket: { supported: true } })]);
  const v = parseVersion(reply.payload);
  assert.equal(v.minor, 2);
  assert.deepEqual(v.capabilities.twinSocket, { supported: true, fdIndex: 0 });
  assert.equal(reply.fds.length, 1);
  loadLibc().close(reply.fds[0]!);
});

test("VERSION: JSON without its NUL, bad JSON, a wrong type, a wrong major each close the connection", async (t) => {
  for (const payload of [
    withJson('{"capabilities":{}}', false),
    withJson("{capabilities"),
    withJson('{"capabilities":{"max_msg_fds":"eight"}}'),
    withJson('{"capabilities":{"max_msg_fds":-1}}'),
    encodeVersion(1, 0, {}),
    new Uint8Array(3),
  ]) {
    const peer = await rawPeer(t, { version: false });
    peer.send(VfioUserCommand.VERSION, [payload]);
    assert.equal(await peer.next(), undefined, "connection closed");
  }
});

test("VERSION with an fd attached closes the connection and the fd is not kept", async (t) => {
  const peer = await rawPeer(t, { version: false });
  const efd = loadLibc().eventfd(0, EFD_CLOEXEC);
  t.after(() => loadLibc().close(efd));
  peer.send(VfioUserCommand.VERSION, [encodeVersion(0, 2, {})], [efd]);
  assert.equal(await peer.next(), undefined);
});

test("any command before VERSION closes the connection; VERSION twice is EINVAL", async (t) => {
  const early = await rawPeer(t, { version: false });
  early.send(VfioUserCommand.DEVICE_GET_INFO, [deviceInfoLayout.encode({ argsz: 16 })]);
  assert.equal(await early.next(), undefined);
  const peer = await rawPeer(t);
  assert.equal(errnoOf(await peer.version()), 22);
});

test("the server serves the next client after one leaves, with the device state kept", async (t) => {
  const first = await rawPeer(t);
  first.close();
  assert.equal(first.server.served, 1);
});
