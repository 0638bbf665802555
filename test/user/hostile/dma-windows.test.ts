/**
 * DMA windows a client may map: any size up to the 8 TiB limit (a koffi view is at most 4 GiB,
 * so large windows are reached in pieces or through the client's fd), and many of them
 * (65,535, in any order) found by a sorted lookup.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { dmaMapLayout } from "../../../src/abi/vfio-user/messages.js";
import { MFD_CLOEXEC, loadLibc } from "../../../src/native/libc.js";
import { DmaWindows } from "../../../src/user/dma-windows.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const libc = loadLibc();
const GiB = 1n << 30n;

/** A sparse memfd of `size` bytes: no memory is used until a page is written. */
function sparseMemfd(size: bigint): number {
  const fd = libc.memfdCreate("hostile-dma", MFD_CLOEXEC);
  assert.ok(fd >= 0);
  assert.equal(libc.ftruncate(fd, size), 0);
  return fd;
}

test("a DMA window larger than 4 GiB maps, and the device reaches its last page", async (t) => {
  const peer = await rawPeer(t);
  const size = 4n * GiB + 4096n;
  const fd = sparseMemfd(size);
  t.after(() => libc.close(fd));
  const map = dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 1n << 40n, size });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DMA_MAP, [map], [fd])), 0);
  const session = peer.server.session!;
  // A transfer across the 4 GiB boundary inside the window, then the last page.
  const across = (1n << 40n) + 4n * GiB - 2n;
  await session.dmaWrite(across, Uint8Array.of(9, 8, 7, 6));
  assert.deepEqual([...(await session.dmaRead(across, 4))], [9, 8, 7, 6]);
  const last = (1n << 40n) + size - 4096n;
  await session.dmaWrite(last, Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual([...(await session.dmaRead(last, 4))], [1, 2, 3, 4]);
  const check = new Uint8Array(4);
  assert.equal(libc.pread(fd, check, size - 4096n), 4);
  assert.deepEqual([...check], [1, 2, 3, 4]);
});

test("65,535 windows mapped in a scrambled order are each found, and overlaps are refused", { timeout: 60_000 }, async () => {
  const windows = new DmaWindows(65_535);
  const n = 65_535;
  // A fixed permutation of the slots: multiplication by an odd number modulo 2^16.
  for (let i = 0; i < n; i++) {
    const slot = BigInt((i * 40_503) & 0xffff);
    windows.add(slot * 0x2000n, 0x1000n, true, true, undefined, 0n);
  }
  assert.equal(windows.count, n);
  assert.throws(() => windows.add(0x1000n, 0x2000n, true, true, undefined, 0n), (e: { errno?: number }) => e.errno === 17);
  assert.throws(() => windows.add(0x2000n * 65_536n, 0x1000n, true, true, undefined, 0n), (e: { errno?: number }) => e.errno === 28);
  for (let slot = 0n; slot < 65_536n; slot += 997n) {
    const found = windows.lookup(slot * 0x2000n + 0x800n, 16);
    if (slot === BigInt((65_535 * 40_503) & 0xffff)) continue;
    assert.equal(found?.address, slot * 0x2000n);
    assert.equal(windows.lookup(slot * 0x2000n + 0x1000n, 1), undefined);
  }
  windows.removeAll();
});
