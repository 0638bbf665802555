import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { dmaMapLayout, dmaUnmapLayout } from "../../../src/abi/vfio-user/messages.js";
import { allocateMemfd } from "../../../src/native/process-memory.js";
import { loadLibc, EFD_CLOEXEC } from "../../../src/native/libc.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const libc = loadLibc();
const map = (address: bigint, size: bigint, flags = 3, offset = 0n, argsz = 32): Uint8Array =>
  dmaMapLayout.encode({ argsz, flags, offset, address, size });
/** A memfd the peer sends; the server owns the copy it receives. */
function memfd(t: import("node:test").TestContext, size: number): number {
  const m = allocateMemfd(libc, size, { name: "test-dma" });
  t.after(() => m.free());
  return m.fd!;
}

test("DMA_MAP with an fd maps the window; overlapping it is EEXIST; unmapping the exact range works", async (t) => {
  const peer = await rawPeer(t);
  const fd = memfd(t, 8192);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(0x10000n, 8192n)], [fd])), 0);
  assert.equal(peer.server.session!.dma.count, 1);
  assert.equal(peer.server.session!.dma.windows[0]!.kind, "file");
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(0x11000n, 4096n)], [fd])), 17);
  // Cutting a window is EINVAL, as Linux type1 v2 answers (libvfio-user: ENOENT).
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, address: 0x10000n, size: 4096n })])), 22);
  const reply = await peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, address: 0x10000n, size: 8192n })]);
  assert.equal(errnoOf(reply), 0);
  assert.deepEqual(dmaUnmapLayout.decode(reply.payload), { argsz: 24, flags: 0, address: 0x10000n, size: 8192n });
  assert.equal(peer.server.session!.dma.count, 0);
});

test("DMA_MAP without an fd makes a message-based window", async (t) => {
  const peer = await rawPeer(t);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(0n, 4096n)])), 0);
  assert.equal(peer.server.session!.dma.windows[0]!.kind, "message");
});

test("DMA_MAP refuses bad input with EINVAL: flags, size 0, argsz, wrap, a file too small, two fds, not a file", async (t) => {
  const peer = await rawPeer(t);
  const fd = memfd(t, 4096);
  const efd = libc.eventfd(0, EFD_CLOEXEC);
  t.after(() => libc.close(efd));
  const cases: [Uint8Array, number[]][] = [
    [map(0n, 4096n, 0x100), []],
    [map(0n, 4096n, 0), []],
    [map(0n, 0n), []],
    [map(0n, 4096n, 3, 0n, 8), []],
    [map(0xffff_ffff_ffff_f000n, 0x2000n), []],
    [map(0n, 8192n), [fd]],
    [map(0n, 4096n, 3, 4096n), [fd]],
    [map(0n, 4096n, 3, 100n), [fd]],
    [map(0n, 4096n), [fd, fd]],
    [map(0n, 4096n), [efd]],
    [map(0n, 4096n, 3, 8n), []],
    [map(0n, 4096n).subarray(0, 31), []],
  ];
  for (const [payload, fds] of cases) {
    assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [payload], fds)), 22, `case ${cases.findIndex((c) => c[0] === payload)}`);
  }
  assert.equal(peer.server.session!.dma.count, 0);
});

test("DMA_MAP past max_dma_maps is ENOSPC; UNMAP_ALL drops every window", async (t) => {
  const peer = await rawPeer(t, { server: { maxDmaMaps: 2 } });
  for (let i = 0n; i < 2n; i++) assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(i * 4096n, 4096n)])), 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(0x100000n, 4096n)])), 28);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, flags: 2, address: 0n, size: 0n })])), 0);
  assert.equal(peer.server.session!.dma.count, 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, flags: 2, address: 4096n, size: 0n })])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, flags: 1, address: 0n, size: 4096n })])), 95);
});

test("DMA_UNMAP of a range unmaps every window inside it; a range holding none succeeds (Linux type1)", async (t) => {
  const peer = await rawPeer(t);
  for (const address of [0x10000n, 0x20000n, 0x40000n]) {
    assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map(address, 4096n)])), 0);
  }
  const unmap = (address: bigint, size: bigint) => peer.request(VfioUserCommand.DMA_UNMAP, [dmaUnmapLayout.encode({ argsz: 24, flags: 0, address, size })]);
  assert.equal(errnoOf(await unmap(0x100000n, 1n << 30n)), 0);
  assert.equal(peer.server.session!.dma.count, 3);
  assert.equal(errnoOf(await unmap(0x10800n, 0x10000n)), 22);
  assert.equal(errnoOf(await unmap(0n, 0x30000n)), 0);
  assert.deepEqual(peer.server.session!.dma.windows.map((w) => w.address), [0x40000n]);
});
