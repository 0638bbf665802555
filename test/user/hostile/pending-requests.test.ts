/**
 * Server→client requests (DMA_READ/DMA_WRITE) a client never answers: bounded in number, each
 * with a timeout, and dropped on DEVICE_RESET and on disconnect, so the server never spins
 * looking for a free message id and never holds memory for them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { deviceInfoLayout, dmaMapLayout } from "../../../src/abi/vfio-user/messages.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const settle = (p: Promise<unknown>): Promise<"ok" | "failed"> => p.then(() => "ok" as const, () => "failed" as const);

test("70,000 DMA_READs the client never answers: the excess fails at once, the rest time out, the server still answers", { timeout: 60_000 }, async (t) => {
  const peer = await rawPeer(t, { server: { maxPendingRequests: 64, requestTimeoutMs: 300 } });
  const map = dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 0n, size: 1n << 20n });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map])), 0);
  const session = peer.server.session!;
  const reads = Array.from({ length: 70_000 }, (_, i) => settle(session.dmaRead(BigInt(i % 256) * 8n, 8)));
  assert.ok(session.pendingRequests <= 64, `${session.pendingRequests} pending`);
  const outcomes = await Promise.all(reads);
  assert.ok(outcomes.every((o) => o === "failed"));
  assert.equal(session.pendingRequests, 0);
  // The server still answers (after the DMA_READs it sent, which the peer never answered).
  const id = peer.send(VfioUserCommand.DEVICE_GET_INFO, [deviceInfoLayout.encode({ argsz: 16 })]);
  for (;;) {
    const m = await peer.next();
    assert.ok(m);
    if (m.header.msgId === id && m.header.command === VfioUserCommand.DEVICE_GET_INFO) {
      assert.equal(errnoOf(m), 0);
      break;
    }
  }
});

test("DEVICE_RESET fails the server→client requests in flight", async (t) => {
  const peer = await rawPeer(t, { server: { requestTimeoutMs: 60_000 } });
  const map = dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 0n, size: 4096n });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map])), 0);
  const session = peer.server.session!;
  const reads = [settle(session.dmaRead(0n, 8)), settle(session.dmaRead(8n, 8))];
  assert.equal(session.pendingRequests, 2);
  // The two DMA_READs arrive first; then the reset's reply.
  const id = peer.send(VfioUserCommand.DEVICE_RESET);
  for (;;) {
    const m = await peer.next();
    assert.ok(m);
    if (m.header.command === VfioUserCommand.DEVICE_RESET && m.header.msgId === id) break;
  }
  assert.deepEqual(await Promise.all(reads), ["failed", "failed"]);
  assert.equal(session.pendingRequests, 0);
});
