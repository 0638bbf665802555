import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccessSize, DeviceHost } from "../../src/api/hosting.js";
import { DmaFaultError } from "../../src/api/hosting.js";
import {
  EDU_DMA_BUFFER_ADDRESS,
  EDU_ID,
  EduDevice,
  EduRegister as R,
  eduFactorial,
  eduRangeOk,
} from "../../src/devices/edu.js";

/**
 * A DeviceHost over a Uint8Array "memory" at bus address 0, with ranges the test blocks as an
 * IOMMU would, and a log of interrupt line changes.
 */
class TestHost implements DeviceHost {
  readonly memory = new Uint8Array(0x10000);
  readonly blocked: [bigint, bigint][] = [];
  readonly irqs: string[] = [];

  private check(address: bigint, length: number, access: "read" | "write"): void {
    const end = address + BigInt(length);
    if (end > BigInt(this.memory.length)) throw new DmaFaultError(address, access, "not-mapped");
    for (const [s, e] of this.blocked) if (address < e && end > s) throw new DmaFaultError(address, access, "not-mapped");
  }
  async dmaRead(address: bigint, length: number): Promise<Uint8Array> {
    this.check(address, length, "read");
    return this.memory.slice(Number(address), Number(address) + length);
  }
  async dmaWrite(address: bigint, data: Uint8Array): Promise<void> {
    this.check(address, data.length, "write");
    this.memory.set(data, Number(address));
  }
  raiseIrq(vector: number): void {
    this.irqs.push(`raise ${vector}`);
  }
  lowerIrq(vector: number): void {
    this.irqs.push(`lower ${vector}`);
  }
}

function setup(options: ConstructorParameters<typeof EduDevice>[0] = {}): { edu: EduDevice; host: TestHost; r: (o: number, s?: AccessSize) => bigint; w: (o: number, v: bigint | number, s?: AccessSize) => void } {
  const edu = new EduDevice(options);
  const host = new TestHost();
  edu.attach(host);
  return {
    edu,
    host,
    r: (o, s = 4) => edu.barRead(0, BigInt(o), s),
    w: (o, v, s = 4) => edu.barWrite(0, BigInt(o), s, BigInt(v)),
  };
}

/** Starts a DMA the way edu.rst's example does. */
function dma(w: (o: number, v: bigint | number, s?: AccessSize) => void, src: bigint, dst: bigint, count: number, cmd: number): void {
  w(R.dmaSource, src, 8);
  w(R.dmaDestination, dst, 8);
  w(R.dmaCount, count, 8);
  w(R.dmaCommand, cmd, 8);
}

test("edu presents QEMU's identity, one 1 MiB memory BAR, one MSI vector and INTA#", () => {
  const edu = new EduDevice();
  assert.equal(edu.identity.vendorId, 0x1234);
  assert.equal(edu.identity.deviceId, 0x11e8);
  assert.equal(edu.identity.revision, 0x10);
  assert.equal(edu.identity.classCode, 0x00ff00);
  assert.deepEqual(edu.bars, [{ size: 0x100000n, kind: "memory32", prefetchable: false }]);
  assert.equal(edu.msiVectors, 1);
  assert.equal(edu.intxPin, 1);
  assert.equal(edu.dmaMask, 0x0fffffffn);
});

test("identification reads 0x010000ed and liveness reads back the inverse", () => {
  const { r, w } = setup();
  assert.equal(r(R.id), BigInt(EDU_ID));
  assert.equal(r(R.liveness), 0n, "power-on value");
  w(R.liveness, 0x12345678);
  assert.equal(r(R.liveness), 0xedcba987n);
  w(R.id, 0); // read-only
  assert.equal(r(R.id), 0x010000edn);
});

test("access sizes follow edu.c: 4 bytes below 0x80, 4 or 8 from 0x80, aligned; others read 0 or all-ones", () => {
  const { r, w } = setup();
  // Refused by QEMU's memory core (valid.min_access_size 4, unaligned not allowed): read 0, write dropped.
  assert.equal(r(R.id, 1), 0n);
  assert.equal(r(R.id, 2), 0n);
  assert.equal(r(0x02, 4), 0n);
  assert.equal(r(0x84, 8), 0n);
  w(R.liveness, 0xff, 1);
  w(R.liveness, 0xffff, 2);
  assert.equal(r(R.liveness), 0n);
  // Reaches edu_mmio_read, which refuses 8 bytes below 0x80 with all-ones.
  assert.equal(r(R.id, 8), 0xffff_ffff_ffff_ffffn);
  w(R.liveness, 0, 8);
  assert.equal(r(R.liveness), 0n);
  // Unknown offsets read all-ones of the access size, including the DMA buffer's device address.
  assert.equal(r(0x10), 0xffffffffn);
  assert.equal(r(0x84), 0xffffffffn);
  assert.equal(r(0x40000), 0xffffffffn);
  assert.equal(r(0xa0, 8), 0xffff_ffff_ffff_ffffn);
});

test("DMA address registers take 8-byte writes; a 4-byte write replaces the whole register", () => {
  const { r, w } = setup();
  w(R.dmaSource, 0x1_2345_6000n, 8);
  assert.equal(r(R.dmaSource, 8), 0x1_2345_6000n);
  assert.equal(r(R.dmaSource, 4), 0x2345_6000n);
  w(R.dmaSource, 0x7000, 4);
  assert.equal(r(R.dmaSource, 8), 0x7000n);
});

test("factorial: busy right after the write, n! mod 2^32 once the busy bit clears", async () => {
  const { edu, r, w } = setup();
  w(R.factorial, 12);
  assert.equal(r(R.status) & 1n, 1n, "computing");
  w(R.factorial, 5); // ignored while computing
  await edu.whenIdle();
  assert.equal(r(R.status) & 1n, 0n);
  assert.equal(r(R.factorial), 479001600n);
  w(R.factorial, 0);
  await edu.whenIdle();
  assert.equal(r(R.factorial), 1n);
});

test("eduFactorial wraps as a uint32_t product does", () => {
  const exact = (n: number): bigint => { let p = 1n; for (let i = 2n; i <= BigInt(n); i++) p *= i; return p; };
  for (const n of [0, 1, 12, 13, 20, 33, 34, 35, 100]) assert.equal(BigInt(eduFactorial(n)), exact(n) % (1n << 32n), `${n}!`);
  assert.equal(eduFactorial(0xffffffff), 0);
});

test("factorial with status bit 7 raises interrupt 0x1; acknowledging it lowers the line", async () => {
  const { edu, host, r, w } = setup();
  w(R.status, 0x80);
  assert.equal(r(R.status), 0x80n);
  w(R.factorial, 4);
  assert.deepEqual(host.irqs, []);
  await edu.whenIdle();
  assert.equal(r(R.factorial), 24n);
  assert.equal(r(R.irqStatus), 1n);
  assert.deepEqual(host.irqs, ["raise 0"]);
  w(R.irqAck, 1);
  assert.equal(r(R.irqStatus), 0n);
  assert.deepEqual(host.irqs, ["raise 0", "lower 0"]);
  w(R.status, 0);
  assert.equal(r(R.status), 0n);
});

test("raise and acknowledge: the line stays up until every status bit is cleared", () => {
  const { host, r, w } = setup();
  w(R.irqRaise, 0x30);
  w(R.irqRaise, 0x01);
  assert.equal(r(R.irqStatus), 0x31n);
  w(R.irqAck, 0x10);
  assert.deepEqual(host.irqs, ["raise 0", "raise 0"]);
  w(R.irqAck, 0x21);
  assert.deepEqual(host.irqs, ["raise 0", "raise 0", "lower 0"]);
  w(R.irqRaise, 0); // nothing pending: no interrupt
  assert.equal(host.irqs.length, 3);
});

test("DMA both ways through the 4 KiB buffer, busy until done, interrupt 0x100 when asked", async () => {
  const { edu, host, r, w } = setup();
  host.memory.set([1, 2, 3, 4, 5, 6, 7, 8], 0x1000);
  dma(w, 0x1000n, EDU_DMA_BUFFER_ADDRESS + 16n, 8, 0x1);
  assert.equal(r(R.dmaCommand) & 1n, 1n, "running");
  await edu.whenIdle();
  assert.equal(r(R.dmaCommand), 0n);
  assert.deepEqual([...edu.dmaBuffer().subarray(16, 24)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(host.irqs, []);

  dma(w, EDU_DMA_BUFFER_ADDRESS + 16n, 0x2004n, 8, 0x1 | 0x2 | 0x4);
  await edu.whenIdle();
  assert.deepEqual([...host.memory.subarray(0x2004, 0x200c)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(r(R.dmaCommand), 0x6n, "run bit cleared, the rest kept");
  assert.equal(r(R.irqStatus), 0x100n);
  assert.deepEqual(host.irqs, ["raise 0"]);
  assert.deepEqual(edu.guestErrors, []);
});

test("DMA registers ignore writes while a transfer runs", async () => {
  const { edu, r, w } = setup();
  dma(w, 0x1000n, EDU_DMA_BUFFER_ADDRESS, 16, 0x1);
  w(R.dmaSource, 0x3000, 8);
  w(R.dmaCount, 1, 8);
  w(R.dmaCommand, 0x3, 8);
  assert.equal(r(R.dmaSource, 8), 0x1000n);
  assert.equal(r(R.dmaCount, 8), 16n);
  assert.equal(r(R.dmaCommand, 8), 1n);
  await edu.whenIdle();
  // A command without the start bit changes nothing.
  w(R.dmaCommand, 0x6, 8);
  assert.equal(r(R.dmaCommand, 8), 0n);
});

test("a DMA write the host blocks changes no memory; the command still completes, as in QEMU", async () => {
  const { edu, host, r, w } = setup();
  host.blocked.push([0x8000n, 0x9000n]);
  dma(w, 0x1000n, EDU_DMA_BUFFER_ADDRESS, 64, 0x1); // fill the buffer from RAM (zeros)
  await edu.whenIdle();
  host.memory.fill(0xaa, 0x8000, 0x9000);
  dma(w, EDU_DMA_BUFFER_ADDRESS, 0x8000n, 64, 0x1 | 0x2 | 0x4);
  await edu.whenIdle();
  assert.ok(host.memory.subarray(0x8000, 0x9000).every((b) => b === 0xaa));
  assert.equal(r(R.dmaCommand) & 1n, 0n);
  assert.equal(r(R.irqStatus), 0x100n);
  assert.deepEqual(edu.guestErrors, [{ kind: "dma-blocked", access: "write", address: 0x8000n, length: 64, reason: "not-mapped" }]);
});

test("a DMA read the host blocks fills that part of the buffer with zeros (QEMU reads unassigned memory as 0)", async () => {
  const { edu, host, w } = setup();
  host.memory.fill(0x11, 0x0f00, 0x1100);
  host.blocked.push([0x1000n, 0x2000n]);
  // Seed the buffer with 0x55 from RAM first.
  host.memory.fill(0x55, 0x3000, 0x3200);
  dma(w, 0x3000n, EDU_DMA_BUFFER_ADDRESS, 0x200, 0x1);
  await edu.whenIdle();
  // 0x0f00..0x1100 spans a mapped page and a blocked one: page by page, as an IOMMU translates.
  dma(w, 0x0f00n, EDU_DMA_BUFFER_ADDRESS, 0x200, 0x1);
  await edu.whenIdle();
  const buf = edu.dmaBuffer();
  assert.ok(buf.subarray(0, 0x100).every((b) => b === 0x11));
  assert.ok(buf.subarray(0x100, 0x200).every((b) => b === 0));
  assert.equal(edu.guestErrors.length, 1);
  assert.equal(edu.guestErrors[0]!.kind, "dma-blocked");
});

test("QEMU 7.2's range check: a transfer reaching the buffer's last byte halts the device until reset", async () => {
  assert.equal(eduRangeOk(EDU_DMA_BUFFER_ADDRESS, 4095n), true);
  assert.equal(eduRangeOk(EDU_DMA_BUFFER_ADDRESS, 4096n), false);
  assert.equal(eduRangeOk(EDU_DMA_BUFFER_ADDRESS, 0n), false);
  assert.equal(eduRangeOk(EDU_DMA_BUFFER_ADDRESS - 1n, 2n), false);
  assert.equal(eduRangeOk(EDU_DMA_BUFFER_ADDRESS + 8n, 0xffff_ffff_ffff_fff8n), false, "wraps around");

  const { edu, host, r, w } = setup();
  host.memory.fill(0x77, 0, 0x2000);
  dma(w, 0n, EDU_DMA_BUFFER_ADDRESS, 4096, 0x1 | 0x4);
  await edu.whenIdle();
  assert.deepEqual(edu.halted, { kind: "dma-out-of-range", start: EDU_DMA_BUFFER_ADDRESS, count: 4096n });
  assert.equal(r(R.id), 0xffffffffn, "a halted device reads all-ones");
  assert.equal(r(R.dmaCommand, 8), 0xffff_ffff_ffff_ffffn);
  assert.ok(edu.dmaBuffer().every((b) => b === 0), "nothing was transferred");
  assert.deepEqual(host.irqs, []);
  await edu.whenIdle(); // resolves: a halted device has nothing left to finish
  edu.reset();
  assert.equal(edu.halted, undefined);
  assert.equal(r(R.id), BigInt(EDU_ID));
  assert.equal(r(R.dmaCommand), 0n);
});

test("a RAM address above the 28-bit DMA mask is clamped to it and used, as edu_clamp_addr does", async () => {
  const { edu, host, w } = setup();
  host.memory.set([9, 8, 7], 0x100);
  dma(w, (1n << 28n) | 0x100n, EDU_DMA_BUFFER_ADDRESS, 3, 0x1);
  await edu.whenIdle();
  assert.deepEqual([...edu.dmaBuffer().subarray(0, 3)], [9, 8, 7]);
  assert.deepEqual(edu.guestErrors, [{ kind: "dma-address-clamped", address: 0x1000_0100n, clamped: 0x100n }]);
});

test("reset() drops a pending DMA and factorial and returns registers to power-on values", async () => {
  const { edu, host, r, w } = setup();
  host.memory.fill(0x42, 0, 16);
  w(R.liveness, 1);
  w(R.irqRaise, 4);
  w(R.status, 0x80);
  w(R.factorial, 6);
  dma(w, 0n, EDU_DMA_BUFFER_ADDRESS, 16, 0x1 | 0x4);
  edu.reset();
  assert.equal(r(R.liveness), 0n);
  assert.equal(r(R.status), 0n);
  assert.equal(r(R.factorial), 0n);
  assert.equal(r(R.irqStatus), 0n);
  assert.equal(r(R.dmaCommand), 0n);
  assert.equal(r(R.dmaSource), 0n);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(edu.dmaBuffer().every((b) => b === 0), "the dropped DMA never ran");
  assert.equal(r(R.factorial), 0n, "the dropped factorial never completed");
  assert.deepEqual(host.irqs, ["raise 0", "lower 0"]);
});

test("dmaDelayMs keeps a transfer busy for that long, as QEMU's 100 ms timer does", async () => {
  const { edu, r, w } = setup({ dmaDelayMs: 20 });
  const start = Date.now();
  dma(w, 0n, EDU_DMA_BUFFER_ADDRESS, 4, 0x1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(r(R.dmaCommand) & 1n, 1n);
  await edu.whenIdle();
  assert.ok(Date.now() - start >= 15);
  assert.equal(r(R.dmaCommand), 0n);
});

test("without a host, DMA is blocked but completes, and interrupts go nowhere", async () => {
  const edu = new EduDevice();
  edu.barWrite(0, BigInt(R.dmaCount), 8, 4n);
  edu.barWrite(0, BigInt(R.dmaDestination), 8, EDU_DMA_BUFFER_ADDRESS);
  edu.barWrite(0, BigInt(R.dmaCommand), 8, 1n);
  await edu.whenIdle();
  assert.equal(edu.barRead(0, BigInt(R.dmaCommand), 8), 0n);
  assert.equal(edu.guestErrors[0]?.kind, "dma-blocked");
});
