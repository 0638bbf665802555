/**
 * The edu model against QEMU's own edu, register for register. Opt-in: it starts
 * qemu-system-x86_64 (TCG, SeaBIOS, no guest OS) with `-qtest stdio`, QEMU's test protocol
 * for raw config and memory accesses, runs one script on both, and compares every value read.
 *
 *   VFIO_TEST_QEMU_EDU=1 npm test     (needs qemu-system-x86_64; Debian's 7.2 is the reference)
 *
 * Only naturally aligned accesses are compared: qtest's readq/writeq at an address that is not
 * 8-byte aligned splits into two 4-byte accesses, which a CPU access does not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import type { DeviceHost } from "../../src/api/hosting.js";
import { DmaFaultError } from "../../src/api/hosting.js";
import { EduDevice } from "../../src/devices/edu.js";
import { PciConfigSpace } from "../../src/devices/pci/config-space.js";

const QEMU = "qemu-system-x86_64";
const BAR0 = 0xfe000000n;

interface Port {
  cfgRead(offset: number, size: 1 | 2 | 4): Promise<number>;
  cfgWrite(offset: number, size: 1 | 2 | 4, value: number): Promise<void>;
  read(offset: number, size: 1 | 2 | 4 | 8): Promise<bigint>;
  write(offset: number, size: 1 | 2 | 4 | 8, value: bigint): Promise<void>;
  memWrite(address: number, data: Uint8Array): Promise<void>;
  memRead(address: number, length: number): Promise<Uint8Array>;
  /** Lets a started factorial or DMA finish (QEMU: 100 ms of virtual time and then some). */
  settle(): Promise<void>;
}

/** The model behind its config space, over a RAM array, with QEMU's bus-master gate on DMA. */
function modelPort(): Port {
  const edu = new EduDevice();
  const config = new PciConfigSpace(edu);
  const ram = new Uint8Array(4 << 20);
  const host: DeviceHost = {
    async dmaRead(address, length) {
      if (!config.busMasterEnabled) throw new DmaFaultError(address, "read", "bus-master-disabled");
      return ram.slice(Number(address), Number(address) + length);
    },
    async dmaWrite(address, data) {
      if (!config.busMasterEnabled) throw new DmaFaultError(address, "write", "bus-master-disabled");
      ram.set(data, Number(address));
    },
    raiseIrq() {},
    lowerIrq() {},
  };
  edu.attach(host);
  return {
    async cfgRead(o, s) { return config.read(o, s); },
    async cfgWrite(o, s, v) { config.write(o, s, v); },
    async read(o, s) { return edu.barRead(0, BigInt(o), s); },
    async write(o, s, v) { edu.barWrite(0, BigInt(o), s, v); },
    async memWrite(a, d) { ram.set(d, a); },
    async memRead(a, n) { return ram.slice(a, a + n); },
    async settle() { await edu.whenIdle(); },
  };
}

/** QEMU with one edu at 00:03.0, driven over qtest. */
async function qemuPort(t: { after(fn: () => void): void }): Promise<Port> {
  const child = spawn(QEMU, ["-M", "q35", "-accel", "tcg", "-no-reboot", "-qtest", "stdio", "-display", "none", "-nodefaults",
    "-monitor", "none", "-serial", "none", "-m", "64", "-device", "edu,addr=03.0"], { stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => child.kill());
  // Writing to a QEMU that has exited must fail the command, not crash the runner.
  child.stdin.on("error", () => {});
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => {
    if (/^(OK|FAIL|ERR)/.test(line)) waiting.shift()?.(line);
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
    for (const w of waiting.splice(0)) w(`EXIT ${stderr}`);
  });
  const cmd = (c: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${c}: QEMU exited: ${stderr}`));
      waiting.push((line) => (line.startsWith("OK") ? resolve(line) : reject(new Error(`${c}: ${line}`))));
      child.stdin.write(`${c}\n`);
    });
  const value = (line: string): bigint => BigInt(line.split(" ")[1]!);
  const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
  const sel = (o: number): Promise<string> => cmd(`outl 0xcf8 ${hex((0x80000000 | (3 << 11) | (o & ~3)) >>> 0)}`);
  const io = { 1: "b", 2: "w", 4: "l" } as const;
  const mm = { 1: "b", 2: "w", 4: "l", 8: "q" } as const;
  // Let SeaBIOS finish enumerating before the script programs BAR0 itself.
  await new Promise((r) => setTimeout(r, 1500));
  return {
    async cfgRead(o, s) { await sel(o); return Number(value(await cmd(`in${io[s]} ${hex(0xcfc + (o & 3))}`))); },
    async cfgWrite(o, s, v) { await sel(o); await cmd(`out${io[s]} ${hex(0xcfc + (o & 3))} ${hex(v)}`); },
    async read(o, s) { return value(await cmd(`read${mm[s]} ${hex(BAR0 + BigInt(o))}`)); },
    async write(o, s, v) { await cmd(`write${mm[s]} ${hex(BAR0 + BigInt(o))} ${hex(v)}`); },
    async memWrite(a, d) { await cmd(`write ${hex(a)} ${d.length} 0x${Buffer.from(d).toString("hex")}`); },
    async memRead(a, n) { return Uint8Array.from(Buffer.from((await cmd(`read ${hex(a)} ${n}`)).split(" ")[1]!.slice(2), "hex")); },
    async settle() { await new Promise((r) => setTimeout(r, 250)); },
  };
}

/** The script: every value it reads goes into the transcript. */
async function script(p: Port): Promise<string[]> {
  const out: string[] = [];
  const note = (what: string, v: number | bigint | Uint8Array): void => {
    out.push(`${what} = ${v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v.toString(16)}`);
  };
  for (const o of [0x00, 0x08, 0x2c, 0x34, 0x40, 0x44, 0x48, 0x4c]) note(`cfg ${o.toString(16)}`, await p.cfgRead(o, 4));
  note("cfg pin", await p.cfgRead(0x3d, 1));
  note("cfg status", await p.cfgRead(0x06, 2));
  await p.cfgWrite(0x10, 4, 0xffffffff);
  note("bar0 probe", await p.cfgRead(0x10, 4));
  await p.cfgWrite(0x14, 4, 0xffffffff);
  note("bar1 probe", await p.cfgRead(0x14, 4));
  await p.cfgWrite(0x30, 4, 0xffffffff);
  note("rom probe", await p.cfgRead(0x30, 4));
  await p.cfgWrite(0x0c, 4, 0xffffffff);
  note("cache line/latency", await p.cfgRead(0x0c, 4));
  await p.cfgWrite(0x04, 2, 0xffff);
  note("command all-ones", await p.cfgRead(0x04, 2));
  await p.cfgWrite(0x06, 2, 0xffff);
  note("status after writing ones", await p.cfgRead(0x06, 2));
  await p.cfgWrite(0x42, 2, 0x71);
  note("msi control", await p.cfgRead(0x42, 2));
  await p.cfgWrite(0x44, 4, 0xffffffff);
  note("msi address", await p.cfgRead(0x44, 4));
  await p.cfgWrite(0x48, 4, 0xffffffff);
  note("msi address hi", await p.cfgRead(0x48, 4));
  await p.cfgWrite(0x4c, 4, 0xffffffff);
  note("msi data + after", await p.cfgRead(0x4c, 4));
  await p.cfgWrite(0x42, 2, 0);
  await p.cfgWrite(0x60, 4, 0xdeadbeef);
  note("device-specific config", await p.cfgRead(0x60, 4));
  await p.cfgWrite(0x10, 4, Number(BAR0));
  await p.cfgWrite(0x04, 2, 0x6);

  for (const [o, s] of [[0, 1], [0, 2], [0, 4], [0, 8], [0x10, 4], [0x84, 4], [0xa0, 8], [0x40000, 4], [0x40000, 8]] as const) note(`mmio ${o.toString(16)}/${s}`, await p.read(o, s));
  await p.write(0x04, 4, 0x12345678n);
  note("liveness", await p.read(0x04, 4));
  await p.write(0x04, 1, 0xffn);
  await p.write(0x04, 2, 0xffffn);
  note("liveness after 1/2-byte writes", await p.read(0x04, 4));
  // Not 0xffffffff: QEMU's worker really loops 2^32 times (seconds); the model's answer is
  // the same (0) but immediate, so the busy bit would differ by timing alone.
  for (const n of [0, 5, 12, 13, 33, 34, 100000]) {
    await p.write(0x08, 4, BigInt(n));
    await p.settle();
    note(`factorial ${n}`, await p.read(0x08, 4));
    note(`status after ${n}`, await p.read(0x20, 4));
  }
  await p.write(0x20, 4, 0x81n);
  note("status after 0x81", await p.read(0x20, 4));
  await p.write(0x20, 4, 0n);
  await p.write(0x60, 4, 0x30n);
  note("irq status after raise", await p.read(0x24, 4));
  await p.write(0x64, 4, 0x10n);
  note("irq status after ack", await p.read(0x24, 4));
  await p.write(0x64, 4, 0x20n);
  await p.write(0x80, 8, 0x1_0000_0000n);
  await p.write(0x80, 4, 5n);
  note("src after 8- then 4-byte write", await p.read(0x80, 8));

  const pattern = Uint8Array.from({ length: 64 }, (_, i) => i * 3 + 1);
  await p.memWrite(0x100000, pattern);
  const dma = async (src: bigint, dst: bigint, count: bigint, cmd: bigint): Promise<void> => {
    await p.write(0x80, 8, src);
    await p.write(0x88, 8, dst);
    await p.write(0x90, 8, count);
    await p.write(0x98, 8, cmd);
  };
  await dma(0x100000n, 0x40010n, 64n, 1n);
  note("command while running", await p.read(0x98, 8));
  await p.write(0x80, 8, 0x999n);
  note("src written while running", await p.read(0x80, 8));
  await p.settle();
  note("command after", await p.read(0x98, 8));
  await dma(0x40010n, 0x200000n, 64n, 7n);
  await p.settle();
  note("ram after dma to ram", await p.memRead(0x200000, 64));
  note("command after to-ram", await p.read(0x98, 8));
  note("irq status after dma", await p.read(0x24, 4));
  await p.write(0x64, 4, 0x100n);
  // Bus mastering off: the device's reads see zeros, its writes go nowhere.
  await p.cfgWrite(0x04, 2, 0x2);
  await p.memWrite(0x100000, new Uint8Array(64).fill(0x11));
  await dma(0x100000n, 0x40010n, 64n, 1n);
  await p.settle();
  await p.memWrite(0x300000, new Uint8Array(16).fill(0xee));
  await dma(0x40000n, 0x300000n, 16n, 3n);
  await p.settle();
  note("ram after blocked write", await p.memRead(0x300000, 16));
  await p.cfgWrite(0x04, 2, 0x6);
  await dma(0x40010n, 0x200000n, 64n, 3n);
  await p.settle();
  note("buffer after blocked read", await p.memRead(0x200000, 64));
  // An address above the 28-bit mask is clamped.
  await p.memWrite(0x100000, new Uint8Array(8).fill(0x22));
  await dma(0x10100000n, 0x40010n, 8n, 1n);
  await p.settle();
  await dma(0x40010n, 0x200000n, 8n, 3n);
  await p.settle();
  note("clamped", await p.memRead(0x200000, 8));
  // The longest transfers QEMU 7.2 accepts.
  await dma(0x100000n, 0x40000n, 4095n, 1n);
  await p.settle();
  note("4095 from the start", await p.read(0x98, 8));
  await dma(0x100000n, 0x40800n, 0x7ffn, 1n);
  await p.settle();
  note("0x7ff from the middle", await p.read(0x98, 8));
  return out;
}

const wanted = process.env["VFIO_TEST_QEMU_EDU"] === "1";
const haveQemu = wanted && spawnSync(QEMU, ["--version"]).status === 0;

test("the edu model reads and writes as QEMU's edu does", {
  skip: !wanted ? "set VFIO_TEST_QEMU_EDU=1 to compare with QEMU's edu (starts qemu-system-x86_64 under TCG)" : !haveQemu ? `${QEMU} not found` : false,
  timeout: 60_000,
}, async (t) => {
  const modelP = modelPort();
  const qemuP = await qemuPort(t);
  assert.deepEqual(await script(modelP), await script(qemuP));
  // A transfer reaching the buffer's last byte: QEMU 7.2's hw_error() ends QEMU; the model halts.
  for (const p of [modelP, qemuP]) {
    await p.write(0x80, 8, 0x100000n);
    await p.write(0x88, 8, 0x40001n);
    await p.write(0x90, 8, 4095n);
    await p.write(0x98, 8, 1n);
    await p.settle();
  }
  assert.equal(await modelP.read(0x00, 4), 0xffffffffn);
  await assert.rejects(qemuP.read(0x00, 4), /QEMU exited|EXIT/);
});
