/**
 * The client believes nothing a server says without checking it (QEMU's "defend against a
 * malign server"): a scripted server answers with malformed replies.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../src/abi/vfio-user/command.js";
import { deviceInfoLayout, regionAccessLayout, regionInfoLayout } from "../../src/abi/vfio-user/messages.js";
import { loadSocketLibc } from "../../src/native/socket.js";
import { VfioUserClient } from "../../src/user/client.js";
import { encodeReply, type Message } from "../../src/user/protocol/message.js";
import { encodeVersion } from "../../src/user/protocol/version.js";
import { ScmTransport } from "../../src/user/transport/scm-transport.js";

/** A server that answers VERSION with `caps`, then each command with `answer`. */
async function scripted(t: TestContext, answer: (m: Message) => Uint8Array | readonly Uint8Array[] | undefined, caps: Parameters<typeof encodeVersion>[2] = {}, versionFds: number[] = []): Promise<VfioUserClient> {
  const [a, b] = loadSocketLibc().socketpair() as [number, number];
  const server = new ScmTransport(b);
  server.start({
    message: (m) => {
      const reply = m.header.command === VfioUserCommand.VERSION ? encodeReply(m.header, encodeVersion(0, 2, caps)) : answer(m);
      const replies = reply === undefined ? [] : reply instanceof Uint8Array ? [reply] : reply;
      for (const r of replies) server.send(r, m.header.command === VfioUserCommand.VERSION ? versionFds : []);
    },
    closed: () => {},
  });
  t.after(() => server.close());
  const client = await VfioUserClient.over(new ScmTransport(a), "scripted server");
  t.after(() => client.close());
  return client;
}

test("a region info reply whose capability chain loops is refused (EPROTO, field next)", async (t) => {
  const client = await scripted(t, (m) => {
    const info = regionInfoLayout.encode({ argsz: 48, flags: 0xf, index: 1, capOffset: 32, size: 4096n, offset: 0n });
    const cap = new Uint8Array(16);
    new DataView(cap.buffer).setUint16(0, 1, true);
    new DataView(cap.buffer).setUint32(4, 32, true);
    return encodeReply(m.header, info, cap);
  });
  await assert.rejects(client.regionInfo(1), { code: "EPROTO", field: "next" });
});

test("a REGION_READ reply of the wrong size, or echoing another offset, is refused", async (t) => {
  let mode = 0;
  const client = await scripted(t, (m) => {
    const req = regionAccessLayout.decode(m.payload);
    if (mode === 0) return encodeReply(m.header, m.payload, new Uint8Array(req.count + 1));
    return encodeReply(m.header, regionAccessLayout.encode({ ...req, offset: req.offset + 4n }), new Uint8Array(req.count));
  });
  await assert.rejects(client.read(0, 0n, 4), { code: "EPROTO", field: "count" });
  mode = 1;
  await assert.rejects(client.read(0, 0n, 4), { code: "EPROTO", field: "offset" });
});

test("a device claiming 1000 regions is refused; a short reply is refused", async (t) => {
  let short = false;
  const client = await scripted(t, (m) =>
    short ? encodeReply(m.header, new Uint8Array(4)) : encodeReply(m.header, deviceInfoLayout.encode({ argsz: 16, flags: 3, numRegions: 1000, numIrqs: 5 })));
  await assert.rejects(client.info(), { code: "EPROTO", field: "num_regions" });
  short = true;
  await assert.rejects(client.info(), { code: "EPROTO", field: "msg_size" });
});

test("twin_socket in a reply the client did not ask for, or without its fd, ends the connection attempt", async (t) => {
  const [a, b] = loadSocketLibc().socketpair() as [number, number];
  const server = new ScmTransport(b);
  server.start({ message: (m) => server.send(encodeReply(m.header, encodeVersion(0, 2, { twinSocket: { supported: true, fdIndex: 0 } }))), closed: () => {} });
  t.after(() => server.close());
  await assert.rejects(VfioUserClient.over(new ScmTransport(a), "twin without fd"), { code: "EPROTO", field: "twin_socket.fd_index" });
});

test("a reply to a request never sent is ignored; the real reply still arrives", async (t) => {
  const client = await scripted(t, (m) => [
    encodeReply({ ...m.header, msgId: (m.header.msgId + 100) & 0xffff }, deviceInfoLayout.encode({ argsz: 16, flags: 3, numRegions: 1, numIrqs: 1 })),
    encodeReply(m.header, deviceInfoLayout.encode({ argsz: 16, flags: 3, numRegions: 9, numIrqs: 5 })),
  ]);
  assert.equal((await client.info()).numRegions, 9);
  assert.equal((await client.info()).numRegions, 9);
});
