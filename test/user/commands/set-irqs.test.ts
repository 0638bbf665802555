import { test } from "node:test";
import assert from "node:assert/strict";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { irqSetLayout, regionAccessLayout } from "../../../src/abi/vfio-user/messages.js";
import { KernelEventNotifier } from "../../../src/native/event-notifier.js";
import { loadLibc } from "../../../src/native/libc.js";
import { allocateMemfd } from "../../../src/native/process-memory.js";
import { errnoOf, rawPeer } from "../raw-peer.js";

const libc = loadLibc();
const irqSet = (flags: number, index: number, start: number, count: number, data = new Uint8Array(0)): Uint8Array[] =>
  [irqSetLayout.encode({ argsz: 20 + data.byteLength, flags, index, start, count }), data];
const TRIGGER_EVENTFD = 0x24;
const access = (region: number, offset: bigint, count: number): Uint8Array => regionAccessLayout.encode({ offset, region, count });

test("SET_IRQS with an eventfd for MSI: edu's raise register signals it", async (t) => {
  const peer = await rawPeer(t);
  using notifier = new KernelEventNotifier(libc);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(TRIGGER_EVENTFD, 1, 0, 1), [notifier.fd!])), 0);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 4n, 2), new Uint8Array([6, 0])]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([1, 0, 0, 0])]);
  assert.equal(await notifier.next(), 1n);
  // DATA_NONE|TRIGGER of vector 0 signals it from the client side too (a loopback test of the eventfd).
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x21, 1, 0, 1))), 0);
  assert.equal(await notifier.next(), 1n);
  // count 0 with DATA_NONE|TRIGGER disables the index: no further signal.
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x21, 1, 0, 0))), 0);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([1, 0, 0, 0])]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(notifier.take(), 0n);
});

test("INTx is automasked after it fires and fires again on unmask while still asserted", async (t) => {
  const peer = await rawPeer(t);
  using notifier = new KernelEventNotifier(libc);
  await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(TRIGGER_EVENTFD, 0, 0, 1), [notifier.fd!]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([1, 0, 0, 0])]);
  assert.equal(await notifier.next(), 1n);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([2, 0, 0, 0])]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(notifier.take(), 0n, "masked");
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x11, 0, 0, 1))), 0);
  assert.equal(await notifier.next(), 1n);
});

test("SET_IRQS refuses bad input as vfio-pci does (EINVAL, ENOTTY for an action the index lacks) and keeps none of the fds", async (t) => {
  const peer = await rawPeer(t);
  using a = new KernelEventNotifier(libc);
  using b = new KernelEventNotifier(libc);
  const mem = allocateMemfd(libc, 4096);
  t.after(() => mem.free());
  const cases: [Uint8Array[], number[]][] = [
    [irqSet(0x24, 1, 0, 2), [a.fd!, b.fd!]],
    [irqSet(0x24, 1, 0, 1), [a.fd!, b.fd!]],
    [irqSet(0x26, 1, 0, 1), [a.fd!]],
    [irqSet(0x24, 5, 0, 1), [a.fd!]],
    [irqSet(0x24, 2, 0, 1), [a.fd!]],
    [irqSet(0x24, 1, 0, 1), [mem.fd!]],
    [irqSet(0x22, 1, 0, 1, new Uint8Array(2)), []],
    [irqSet(0x24 | 0x40, 1, 0, 1), [a.fd!]],
    [irqSet(0x24, 1, 0, 0), []],
    [[irqSetLayout.encode({ argsz: 24, flags: 0x21, index: 1, start: 0, count: 1 })], []],
  ];
  for (const [parts, fds] of cases) assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, parts, fds)), 22);
  // Linux: MSI has no mask; two action bits, or none, match no action; all ENOTTY.
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x04, 1, 0, 1), [a.fd!])), 25);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x09, 1, 0, 1))), 25);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x29, 1, 0, 1))), 25);
  // One interrupt type at a time: INTx while MSI is on is EINVAL.
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x24, 1, 0, 1), [a.fd!])), 0);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x24, 0, 0, 1), [b.fd!])), 22);
  assert.equal(errnoOf(await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(0x21, 1, 0, 0))), 0);
  // Nothing is wired now: a raise does not reach either notifier.
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 4n, 2), new Uint8Array([6, 0])]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([1, 0, 0, 0])]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(a.take() + b.take(), 0n);
});

test("a client's blocking eventfd with its counter at the maximum does not stall the server", async (t) => {
  const peer = await rawPeer(t);
  const efd = libc.eventfd(0, 0o2000000);
  t.after(() => libc.close(efd));
  // eventfd(2): the counter's largest value is 2^64-2; one more write would block.
  assert.equal(libc.write(efd, new Uint8Array(new BigUint64Array([0xffff_ffff_ffff_fffen]).buffer)), 8);
  await peer.request(VfioUserCommand.DEVICE_SET_IRQS, irqSet(TRIGGER_EVENTFD, 1, 0, 1), [efd]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(7, 4n, 2), new Uint8Array([6, 0])]);
  await peer.request(VfioUserCommand.REGION_WRITE, [access(0, 0x60n, 4), new Uint8Array([1, 0, 0, 0])]);
  const reply = await peer.request(VfioUserCommand.REGION_READ, [access(0, 0x24n, 4)]);
  assert.deepEqual([...reply.payload.subarray(16)], [1, 0, 0, 0]);
});
