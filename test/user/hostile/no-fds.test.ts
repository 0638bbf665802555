/**
 * A server that cannot take fds says so (max_msg_fds 0), and a client then sends none: DMA by
 * DMA_READ/DMA_WRITE messages, no eventfds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserClient } from "../../../src/user/client.js";
import { VfioUserServer } from "../../../src/user/server.js";
import { loadSocketLibc } from "../../../src/native/socket.js";
import { ScmTransport } from "../../../src/user/transport/scm-transport.js";
import { EduDevice } from "../../../src/devices/edu.js";
import { loopback } from "../loopback.js";

test("serve without fds advertises max_msg_fds 0", async (t) => {
  const { client } = await loopback(t, { fds: false });
  assert.equal(client.serverCaps.maxMsgFds, 0);
});

test("a client on an fd-capable socket to a server that takes no fds sends none", async (t) => {
  const server = VfioUserServer.create(new EduDevice(), { fds: false });
  t.after(() => server.close());
  const pair = loadSocketLibc().socketpair() as [number, number];
  server.serve(new ScmTransport(pair[0]));
  const client = await VfioUserClient.over(new ScmTransport(pair[1]), "no-fds server");
  t.after(() => client.close());
  assert.equal(client.serverCaps.maxMsgFds, 0);
  assert.equal(client.canPassFds, false);
  const buffer = await client.allocate(4096);
  t.after(() => buffer.free());
  const window = server.session!.dma.lookup(buffer.iova, 1);
  assert.equal(window?.kind, "message");
});
