/**
 * The NVMe model through its registers, with a host of plain memory (pages that exist are
 * mapped, the rest fault): the CC/CSTS state machine, admin queue creation checks with their
 * command-specific status codes, and Controller Fatal Status when the controller's own DMA
 * faults. The driver-visible behaviour is the driver suite's (test/drivers/nvme).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DmaFaultError, type DeviceHost } from "../../../src/api/hosting.js";
import { MemoryStore } from "../../../src/devices/nvme/block-store.js";
import { NvmeDevice } from "../../../src/devices/nvme/controller.js";

const CC = 0x14n, CSTS = 0x1cn, AQA = 0x24n, ASQ = 0x28n, ACQ = 0x30n;

function setup() {
  const pages = new Map<bigint, Uint8Array>();
  const irqs: number[] = [];
  const page = (address: bigint, access: "read" | "write") => {
    const p = pages.get(address & ~0xfffn);
    if (!p) throw new DmaFaultError(address, access, "not-mapped");
    return p;
  };
  const host: DeviceHost = {
    dmaRead: async (address, length) => page(address, "read").slice(Number(address & 0xfffn), Number(address & 0xfffn) + length),
    dmaWrite: async (address, data) => void page(address, "write").set(data, Number(address & 0xfffn)),
    raiseIrq: (v) => void irqs.push(v),
    lowerIrq: () => {},
  };
  const model = new NvmeDevice({ namespaces: [{ store: new MemoryStore(1 << 20) }] });
  model.attach(host);
  const map = (address: bigint) => pages.set(address, new Uint8Array(4096));
  const r32 = (o: bigint) => Number(model.barRead(0, o, 4));
  const w32 = (o: bigint, v: number) => model.barWrite(0, o, 4, BigInt(v >>> 0));
  const enable = () => {
    map(0x10000n);
    map(0x11000n);
    w32(AQA, (3 << 16) | 3);
    w32(ASQ, 0x10000);
    w32(ACQ, 0x11000);
    w32(CC, 0x00460001);
  };
  /** Submits one admin command in SQ slot `slot` and waits for its completion's status field. */
  const admin = async (slot: number, dwords: Record<number, number>) => {
    const sqe = new Uint32Array(16);
    for (const [i, v] of Object.entries(dwords)) sqe[Number(i)] = v;
    pages.get(0x10000n)!.set(new Uint8Array(sqe.buffer), slot * 64);
    w32(0x1000n, (slot + 1) % 4); // a tail of 4 would be past the 4-entry ring: the tail wraps
    const cq = new DataView(pages.get(0x11000n)!.buffer);
    for (let i = 0; i < 100 && ((cq.getUint32(slot * 16 + 12, true) >>> 16) & 1) === 0; i++) await new Promise((r) => setImmediate(r));
    w32(0x1004n, (slot + 1) % 4); // the CQ head: a 4-entry queue holds 3 unconsumed completions at most
    return cq.getUint32(slot * 16 + 12, true) >>> 17;
  };
  return { model, map, r32, w32, enable, admin, irqs, pages };
}

test("CC.EN sets CSTS.RDY, CC.SHN sets SHST complete, CC.EN = 0 clears both", () => {
  const { r32, w32, enable } = setup();
  assert.equal(r32(CSTS), 0);
  enable();
  assert.equal(r32(CSTS), 1);
  w32(CC, 0x00464001);
  assert.equal(r32(CSTS), 1 | (2 << 2));
  w32(CC, 0);
  assert.equal(r32(CSTS), 0);
});

test("an unusable configuration at CC.EN gives Controller Fatal Status, as QEMU's failed start", () => {
  const { r32, w32 } = setup();
  w32(AQA, 0);
  w32(CC, 0x00460001);
  assert.equal(r32(CSTS) & 2, 2);
});

test("queue creation checks: queue ID, size, interrupt vector, completion queue (command specific statuses)", async () => {
  const { enable, admin, map } = setup();
  enable();
  map(0x20000n);
  const sct1 = (sc: number) => sc | (1 << 8) | (1 << 14);
  assert.equal(await admin(0, { 0: 0x05, 10: (15 << 16) | 0, 11: 1, 6: 0x20000 }), sct1(0x01), "QID 0 is the admin queue");
  assert.equal(await admin(1, { 0: 0x05 | (1 << 16), 10: (0x1000 << 16) | 1, 11: 1, 6: 0x20000 }), sct1(0x02), "more than MQES entries");
  assert.equal(await admin(2, { 0: 0x05 | (2 << 16), 10: (15 << 16) | 1, 11: (65 << 16) | 3, 6: 0x20000 }), sct1(0x08), "vector 65 of 65");
  assert.equal(await admin(3, { 0: 0x01 | (3 << 16), 10: (15 << 16) | 1, 11: (9 << 16) | 1, 6: 0x20000 }), 0 | sct1(0x00), "SQ on a CQ that does not exist");
});

test("a submission queue entry the controller cannot fetch is Controller Fatal Status", async () => {
  const { enable, r32, w32, pages } = setup();
  enable();
  pages.delete(0x10000n); // the admin SQ's page goes away under the controller
  w32(0x1000n, 1);
  for (let i = 0; i < 20 && (r32(CSTS) & 2) === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(r32(CSTS) & 2, 2);
});

test("completions that waited for room in a full completion queue are all posted once the host frees it", async () => {
  const { enable, w32, pages } = setup();
  enable();
  const sq = pages.get(0x10000n)!;
  const cq = new DataView(pages.get(0x11000n)!.buffer);
  const settle = async () => { for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r)); };
  // Opcode 0xff is no admin command: each completes at once with Invalid Command Opcode.
  const submit = (slot: number, cid: number) => sq.set(new Uint8Array(new Uint32Array([0xff | (cid << 16)]).buffer), slot * 64);
  for (const slot of [0, 1, 2]) submit(slot, 10 + slot);
  w32(0x1000n, 3);
  await settle(); // three completions: the 4-entry queue is full
  submit(3, 13);
  submit(0, 14);
  w32(0x1000n, 1);
  await settle(); // two completions wait for room
  w32(0x1004n, 3); // the host consumes the three: room for both (a rotation of the waiting list once spun forever)
  await settle();
  const entry = (slot: number) => cq.getUint32(slot * 16 + 12, true);
  assert.deepEqual([entry(3) & 0xffff, (entry(3) >>> 16) & 1], [13, 1]);
  assert.deepEqual([entry(0) & 0xffff, (entry(0) >>> 16) & 1], [14, 0], "the wrapped entry carries the inverted phase");
});
