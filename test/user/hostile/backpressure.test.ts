/**
 * A client that sends requests and never reads the replies: the server stops reading while
 * its queue of unsent replies is over the bound, and closes a client that does not drain it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { regionAccessLayout } from "../../../src/abi/vfio-user/messages.js";
import { EduDevice } from "../../../src/devices/edu.js";
import { loadSocketLibc } from "../../../src/native/socket.js";
import { encodeCommand } from "../../../src/user/protocol/message.js";
import { encodeVersion } from "../../../src/user/protocol/version.js";
import { VfioUserServer } from "../../../src/user/server.js";
import { ScmTransport } from "../../../src/user/transport/scm-transport.js";

const s = loadSocketLibc();
const EAGAIN = 11;
const EPIPE = 32;

test("replies never read: the server stops reading, then closes the client", { timeout: 30_000 }, async (t) => {
  const left: (Error | undefined)[] = [];
  const server = VfioUserServer.create(new EduDevice(), { maxQueuedReplyBytes: 16 * 1024, drainTimeoutMs: 500, onDisconnect: (e) => left.push(e) });
  t.after(() => server.close());
  const [ours, theirs] = s.socketpair() as [number, number];
  t.after(() => s.close(theirs));
  server.serve(new ScmTransport(ours));
  assert.ok(s.sendmsg(theirs, encodeCommand(0, VfioUserCommand.VERSION, false, encodeVersion(0, 2, {})), []) > 0);
  const read = encodeCommand(1, VfioUserCommand.REGION_READ, false, regionAccessLayout.encode({ offset: 0n, region: 7, count: 256 }));
  // Send until the server has stopped taking requests for 20 loop turns in a row.
  let blockedTurns = 0;
  let sent = 0;
  for (let turn = 0; turn < 20_000 && blockedTurns < 20; turn++) {
    let n = 0;
    for (; n < 64; n++) {
      const r = s.sendmsg(theirs, read, []);
      if (r === -EAGAIN) break;
      assert.equal(r, read.byteLength);
      sent++;
    }
    blockedTurns = n === 0 ? blockedTurns + 1 : 0;
    await tick();
  }
  assert.equal(blockedTurns, 20, `the server kept reading: ${sent} requests taken`);
  // It then gives up on a client that does not drain.
  for (let i = 0; i < 300 && left.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(left.length, 1);
  assert.equal((left[0] as { errno?: number } | undefined)?.errno, 110 /* ETIMEDOUT */);
  assert.equal(s.sendmsg(theirs, read, []), -EPIPE);
});
