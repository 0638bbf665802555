import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { deviceInfoLayout, irqInfoLayout, regionInfoLayout, regionIoFdsLayout } from "../../../src/abi/vfio-user/messages.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

test("DEVICE_GET_INFO: PCI with reset, 9 regions, 5 IRQ indexes; a short argsz is EINVAL", async (t) => {
  const peer = await rawPeer(t);
  const reply = await peer.request(VfioUserCommand.DEVICE_GET_INFO, [deviceInfoLayout.encode({ argsz: 16 })]);
  assert.deepEqual(deviceInfoLayout.decode(reply.payload), { argsz: 16, flags: 3, numRegions: 9, numIrqs: 5 });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_INFO, [deviceInfoLayout.encode({ argsz: 8 })])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_INFO, [new Uint8Array(8)])), 22);
});

test("DEVICE_GET_REGION_INFO: edu's BAR0 is 1 MiB read/write at offset 0, config 256 bytes at 7<<40, unused regions size 0", async (t) => {
  const peer = await rawPeer(t);
  const info = async (index: number) => regionInfoLayout.decode((await peer.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz: 32, index })])).payload);
  assert.deepEqual(await info(0), { argsz: 32, flags: 3, index: 0, capOffset: 0, size: 1n << 20n, offset: 0n });
  assert.deepEqual(await info(7), { argsz: 32, flags: 3, index: 7, capOffset: 0, size: 256n, offset: 7n << 40n });
  assert.equal((await info(1)).size, 0n);
  assert.equal((await info(6)).flags, 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz: 32, index: 9 })])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz: 16, index: 0 })])), 22);
});

test("DEVICE_GET_REGION_IO_FDS: no ioeventfds, count 0; bad flags or region are EINVAL", async (t) => {
  const peer = await rawPeer(t);
  const reply = await peer.request(VfioUserCommand.DEVICE_GET_REGION_IO_FDS, [regionIoFdsLayout.encode({ argsz: 16, index: 0 })]);
  assert.deepEqual(regionIoFdsLayout.decode(reply.payload), { argsz: 16, flags: 0, index: 0, count: 0 });
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_REGION_IO_FDS, [regionIoFdsLayout.encode({ argsz: 16, index: 0, flags: 1 })])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_REGION_IO_FDS, [regionIoFdsLayout.encode({ argsz: 16, index: 3 })])), 22);
});

test("DEVICE_GET_IRQ_INFO: INTx 1 (maskable, automasked), MSI 1 (noresize), MSI-X 0, ERR 0 (as libvfio-user), REQ 1; index 5 is EINVAL", async (t) => {
  const peer = await rawPeer(t);
  const counts = [];
  for (let index = 0; index < 5; index++) {
    const r = irqInfoLayout.decode((await peer.request(VfioUserCommand.DEVICE_GET_IRQ_INFO, [irqInfoLayout.encode({ argsz: 16, index })])).payload);
    counts.push([r.index, r.flags, r.count]);
  }
  assert.deepEqual(counts, [[0, 7, 1], [1, 9, 1], [2, 9, 0], [3, 1, 0], [4, 9, 1]]);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_GET_IRQ_INFO, [irqInfoLayout.encode({ argsz: 16, index: 5 })])), 22);
});
