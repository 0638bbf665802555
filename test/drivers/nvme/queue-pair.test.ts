/**
 * The queue pair against a register file and plain memory: the test plays the controller,
 * reading SQEs and writing CQEs by hand, so every path (phase wrap, late completion after a
 * timeout, a bogus identifier, a full queue, close) is reached deterministically.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { QueuePair, STATUS_ABORTED, STATUS_TIMED_OUT } from "../../../src/drivers/nvme/queue-pair.js";
import { readCommand } from "../../../src/drivers/nvme/nvm-commands.js";
import { FakeBar, fakeBuffer } from "./fake-bar.js";

const ENTRIES = 4;
function setup(timeoutMs = 10_000) {
  const bar = new FakeBar();
  const sq = fakeBuffer(4096, 0x1000n);
  const cq = fakeBuffer(4096, 0x2000n);
  const lists = Array.from({ length: ENTRIES - 1 }, (_, i) => ({ iova: 0x3000n + BigInt(i) * 64n, entries: new BigUint64Array(8) }));
  const queue = new QueuePair(bar, { sq, cq, prpLists: lists }, { qid: 1, entries: ENTRIES, doorbellStride: 4, pageSize: 4096, timeoutMs, target: "test queue 1" });
  const sqe = (slot: number) => new Uint32Array(sq.bytes.buffer, slot * 64, 16);
  let cqTail = 0;
  let phase = 1;
  /** Posts a completion as the controller would (§4.6): DW0, SQ head/id, CID, phase, status. */
  const complete = (cid: number, status = 0, result = 0) => {
    const e = new Uint32Array(cq.bytes.buffer, cqTail * 16, 4);
    e[0] = result;
    e[2] = 1 << 16;
    e[3] = cid | (phase << 16) | (status << 17);
    if (++cqTail === ENTRIES) {
      cqTail = 0;
      phase ^= 1;
    }
  };
  return { bar, queue, sqe, complete };
}

test("submit writes the SQE (opcode, CID, NSID, PRPs, LBA fields) and rings the tail doorbell", () => {
  const { bar, queue, sqe } = setup();
  assert.ok(queue.submit(readCommand(1, 0x1_0000_0002n, 16, 0x10800n, 8192), () => {}));
  const e = sqe(0);
  assert.equal(e[0]! & 0xff, 0x02);
  const cid = e[0]! >>> 16;
  assert.ok(cid < 3);
  assert.equal(e[1], 1);
  assert.deepEqual([e[6], e[7]], [0x10800, 0]);
  assert.deepEqual([e[8], e[9]], [0x3000 + cid * 64, 0], "PRP2 is the slot's list: 8 KiB from mid-page spans three pages");
  assert.deepEqual([e[10], e[11], e[12]], [2, 1, 15]);
  // SQ 1 tail doorbell: 1000h + 2 × 1 × 4.
  assert.deepEqual(bar.writes.at(-1), [0x1008, 1]);
  queue.close();
});

test("completions are taken by phase tag across wraps, one head doorbell per poll", () => {
  const { bar, queue, sqe, complete } = setup();
  const seen: [number, number][] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) assert.ok(queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), (s, r) => seen.push([s, r])));
    assert.equal(queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), () => {}), false, "three in flight fill a four-entry queue");
    const slots = [0, 1, 2].map((k) => (round * 3 + k) % ENTRIES);
    for (const slot of slots) complete(sqe(slot)[0]! >>> 16, 0, 100 + slot);
    const before = bar.writes.length;
    assert.equal(queue.poll(), 3);
    assert.equal(queue.poll(), 0, "entries of the old phase are not taken again");
    assert.deepEqual(bar.writes.slice(before), [[0x100c, ((round + 1) * 3) % ENTRIES]]);
  }
  assert.equal(seen.length, 9);
  assert.ok(seen.every(([s]) => s === 0));
  queue.close();
});

test("a failure status reaches the callback; a CID naming no command is counted, not delivered", () => {
  const { queue, sqe, complete } = setup();
  const seen: number[] = [];
  queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), (s) => seen.push(s));
  complete(sqe(0)[0]! >>> 16, 0x4080 >>> 0);
  complete(0x7fff);
  assert.equal(queue.poll(), 2);
  assert.deepEqual(seen, [0x4080]);
  assert.equal(queue.spuriousCompletions, 1);
  queue.close();
});

test("a command past its deadline completes with STATUS_TIMED_OUT; its CID stays reserved until the late completion", async () => {
  const { queue, sqe, complete } = setup(30);
  const seen: number[] = [];
  queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), (s) => seen.push(s));
  const late = sqe(0)[0]! >>> 16;
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(seen, [STATUS_TIMED_OUT]);
  assert.equal(queue.outstanding, 0);
  // Two more commands: neither may reuse the timed-out command's CID.
  queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), () => {});
  queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), () => {});
  assert.equal(queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), () => {}), false);
  const cids = [sqe(1)[0]! >>> 16, sqe(2)[0]! >>> 16];
  assert.ok(!cids.includes(late));
  complete(late);
  assert.equal(queue.poll(), 1);
  assert.deepEqual(seen, [STATUS_TIMED_OUT], "the late completion calls nobody");
  assert.equal(queue.spuriousCompletions, 0);
  assert.ok(queue.hasFreeSlot, "and frees its CID");
  queue.close();
});

test("enqueue waits for a free slot in order; close aborts what is outstanding and waiting", () => {
  const { queue, sqe, complete } = setup();
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) queue.enqueue(readCommand(1, BigInt(i), 1, 0x10000n, 512), (s) => seen.push(`${i}:${s}`));
  assert.equal(queue.outstanding, 3);
  complete(sqe(0)[0]! >>> 16);
  queue.poll();
  assert.equal(queue.outstanding, 3, "the fourth command took the freed slot");
  assert.equal(new Uint32Array(sqe(3).buffer, 3 * 64, 16)[10], 3, "in order: LBA 3 went next");
  queue.close();
  assert.deepEqual(seen.sort(), ["0:0", `1:${STATUS_ABORTED}`, `2:${STATUS_ABORTED}`, `3:${STATUS_ABORTED}`, `4:${STATUS_ABORTED}`]);
  assert.equal(queue.submit(readCommand(1, 0n, 1, 0x10000n, 512), () => {}), false);
});
