import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeIrqSet, encodeIrqSet } from "../../src/abi/irq-set.js";
import type { EventNotifier } from "../../src/api/event-notifier.js";
import {
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
} from "../../src/api/constants.js";

const notifier = (fd: number | undefined): EventNotifier => ({
  fd, signal() {}, onSignal() {}, next: async () => 0n, close() {}, [Symbol.dispose]() {},
});

test("encodeIrqSet() with DATA_NONE is the 20-byte struct, argsz 20", () => {
  const bytes = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 0 });
  assert.deepEqual([...bytes], [20, 0, 0, 0, 0x21, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test("encodeIrqSet() writes bools as u8 after the struct (vfio.h example: mask [0,1] and [0,3])", () => {
  const bytes = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, index: 0, start: 1, count: 3, bools: [true, false, true] });
  assert.equal(bytes.byteLength, 23);
  assert.deepEqual([...bytes.subarray(20)], [1, 0, 1]);
  assert.deepEqual(decodeIrqSet(bytes).bools, [true, false, true]);
  assert.equal(decodeIrqSet(bytes).argsz, 23);
});

test("encodeIrqSet() writes eventfds as s32 with -1 for null (vfio.h example: {fd1, -1, fd2})", () => {
  const bytes = encodeIrqSet({
    flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, start: 0, count: 3,
    notifiers: [notifier(7), null, notifier(9)],
  });
  assert.equal(bytes.byteLength, 32);
  assert.deepEqual([...bytes.subarray(20)], [7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 9, 0, 0, 0]);
  assert.deepEqual(decodeIrqSet(bytes).fds, [7, -1, 9]);
});

test("encodeIrqSet() rejects a data array of the wrong length and a notifier without an fd", () => {
  const flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  assert.throws(() => encodeIrqSet({ flags, index: 0, start: 0, count: 2, notifiers: [null] }), { name: "VfioProtocolError", field: "data" });
  assert.throws(() => encodeIrqSet({ flags, index: 0, start: 0, count: 1, notifiers: [notifier(undefined)] }), { field: "data" });
  assert.deepEqual([...encodeIrqSet({ flags, index: 0, start: 0, count: 1, notifiers: [notifier(undefined)] }, () => 5).subarray(20)], [5, 0, 0, 0]);
});

test("decodeIrqSet() rejects an argsz too small for count entries", () => {
  const bytes = encodeIrqSet({ flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, index: 0, start: 0, count: 2, bools: [true, true] });
  new DataView(bytes.buffer).setUint32(0, 21, true);
  assert.throws(() => decodeIrqSet(bytes), { name: "VfioProtocolError", field: "argsz", errno: 22 });
  assert.throws(() => decodeIrqSet(bytes.subarray(0, 12)), { field: "argsz" });
});
