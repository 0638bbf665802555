/**
 * A structure-aware fuzzer that plays the attacks a hostile vfio-user client has: valid
 * handshakes, then mutated commands; fds of every type; messages split into tiny sends or
 * with fds split over two sends before a bad header; clients that never read, never finish a
 * message or never speak; DMA windows over 4 GiB, truncated under the device, or answered by
 * nobody; eventfds kept full; device DMA racing the client's unmaps and resets.
 *
 * After every phase it checks what a server under attack must keep: it is alive, it answers a
 * fresh client, and it holds no more fds or memory than when it started. Deterministic for a
 * seed; `rounds` or `seconds` bound it.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { VfioUserCommand } from "../../../src/abi/vfio-user/command.js";
import { vfioUserHeaderLayout } from "../../../src/abi/vfio-user/header.js";
import {
  deviceFeatureLayout, dmaLoggingControlLayout, dmaLoggingReportLayout, dmaMapLayout, dmaUnmapLayout, irqSetLayout,
  regionAccessLayout, writeMultiEntryLayout, writeMultiLayout,
} from "../../../src/abi/vfio-user/messages.js";
import { EDU_ID, EduDevice } from "../../../src/devices/edu.js";
import { EFD_CLOEXEC, MFD_CLOEXEC, loadLibc } from "../../../src/native/libc.js";
import { loadSocketLibc } from "../../../src/native/socket.js";
import { VfioUserClient } from "../../../src/user/client.js";
import { encodeCommand } from "../../../src/user/protocol/message.js";
import { encodeVersion } from "../../../src/user/protocol/version.js";
import { VfioUserServer } from "../../../src/user/server.js";
import { ScmTransport } from "../../../src/user/transport/scm-transport.js";

const libc = loadLibc();
const s = loadSocketLibc();
const EAGAIN = -11;

/** mulberry32. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzReport {
  readonly phases: number;
  readonly connections: number;
  readonly messages: number;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
  /** Heap and off-heap bytes after a collection, before and after (0 without --expose-gc). */
  readonly memoryBefore: number;
  readonly memoryAfter: number;
}

export interface FuzzOptions {
  readonly seed: number;
  /** Hostile connections per phase. */
  readonly connectionsPerPhase?: number;
  /** Stop after this many phases... */
  readonly phases?: number;
  /** ...or after this many seconds, whichever comes first. */
  readonly seconds?: number;
  /** Called after each phase with what was checked (for logs). */
  readonly onPhase?: (phase: number, check: { fds: number; memory: number }) => void;
}

const openFds = (): number => readdirSync("/proc/self/fd").length;
/** What each open fd is (for the failure message). */
function fdTable(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      out.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // The directory's own fd, gone once read.
    }
  }
  return out;
}
async function memory(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return 0;
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One attacking client: a raw socket end it writes to as it likes. */
interface Attack {
  readonly fd: number;
  readonly server: VfioUserServer;
  readonly int: (n: number) => number;
  readonly pick: <T>(xs: readonly T[]) => T;
  sent: number;
}

const version = (): Uint8Array => encodeCommand(0, VfioUserCommand.VERSION, false, encodeVersion(0, 2, {}));

function send(a: Attack, bytes: Uint8Array, fds: readonly number[] = []): boolean {
  const n = s.sendmsg(a.fd, bytes, fds);
  a.sent++;
  return n >= 0;
}

function anyFd(a: Attack): number {
  switch (a.int(5)) {
    case 0: {
      const m = libc.memfdCreate("fuzz-hostile", MFD_CLOEXEC);
      libc.ftruncate(m, BigInt(a.pick([0, 4096, 65536, 1 << 20])));
      return m;
    }
    case 1: return libc.eventfd(0, EFD_CLOEXEC);
    case 2: {
      const pair = s.socketpair() as [number, number];
      s.close(pair[1]);
      return pair[0];
    }
    case 3: return libc.open("/dev/null", 0o2000000);
    default: return libc.open("/proc/self/stat", 0o2000000);
  }
}

/** A plausible command, then maybe mutated: the server must answer or refuse, never break. */
function command(a: Attack, id: number): { bytes: Uint8Array; fds: number[] } {
  const big = (): bigint => a.pick([0n, 0x1000n, 1n << 32n, (1n << 32n) + 4096n, 1n << 40n, (1n << 64n) - 4096n]);
  const c = a.pick([2, 3, 5, 8, 9, 10, 13, 15, 16]);
  let payload: Uint8Array;
  const fds: number[] = [];
  switch (c) {
    case 2:
      payload = dmaMapLayout.encode({ argsz: 32, flags: a.pick([1, 2, 3]), offset: a.pick([0n, 4096n]), address: big(), size: a.pick([4096n, 65536n, big()]) });
      if (a.int(2)) fds.push(anyFd(a));
      break;
    case 3: payload = dmaUnmapLayout.encode({ argsz: 24, flags: a.pick([0, 0, 2]), address: a.pick([0n, big()]), size: a.pick([0n, 4096n, big()]) }); break;
    case 8: {
      const flags = a.pick([0x24, 0x21, 0x22]);
      const count = a.pick([0, 1, 2]);
      payload = new Uint8Array([...irqSetLayout.encode({ argsz: 20 + (flags & 2 ? count : 0), flags, index: a.pick([0, 1, 4]), start: 0, count }), ...(flags & 2 ? new Uint8Array(count).fill(1) : [])]);
      if (flags & 4) for (let i = 0; i < count; i++) fds.push(anyFd(a));
      break;
    }
    case 9: payload = regionAccessLayout.encode({ offset: a.pick([0n, 0x80n, 0xfffn, big()]), region: a.pick([0, 7, 1]), count: a.pick([4, 8, 4096, 1 << 20]) }); break;
    case 10: payload = new Uint8Array([...regionAccessLayout.encode({ offset: a.pick([4n, 0x80n, 0x98n, 0x90n]), region: a.pick([0, 7]), count: 8 }), ...new Uint8Array(8).map(() => a.int(256))]); break;
    case 15: payload = new Uint8Array([...writeMultiLayout.encode({ wrCnt: 1n }), ...writeMultiEntryLayout.encode({ offset: 0x80n, region: 0, count: 8, data: new Uint8Array(8) })]); break;
    case 16: {
      const feature = a.pick([6, 8]);
      const data = feature === 6
        ? dmaLoggingControlLayout.encode({ pageSize: a.pick([4096n, 1n << 63n]), numRanges: 0 })
        : dmaLoggingReportLayout.encode({ iova: 0n, length: a.pick([1n << 20n, 1n << 40n]), pageSize: a.pick([1n, 4096n, 1n << 63n]) });
      payload = new Uint8Array([...deviceFeatureLayout.encode({ argsz: a.pick([8 + data.byteLength, 65536]), flags: feature | (feature === 6 ? 0x20000 : 0x10000) }), ...data]);
      break;
    }
    default: payload = new Uint8Array(a.pick([0, 8, 16]));
  }
  if (a.int(4) === 0 && payload.byteLength > 0) payload = payload.map((b) => (a.int(8) === 0 ? a.int(256) : b));
  return { bytes: encodeCommand(id, c, a.int(8) === 0, payload), fds };
}

/** The attacks; each gets a fresh connection, whose server end the server serves. */
const attacks: readonly ((a: Attack) => Promise<void>)[] = [
  // Mutated commands with fds of every type, some in sends split into tiny pieces.
  async (a) => {
    send(a, version());
    for (let i = 0; i < 40; i++) {
      const { bytes, fds } = command(a, i + 1);
      if (a.int(4) === 0) {
        for (let at = 0; at < bytes.byteLength; at += 7) send(a, bytes.subarray(at, at + 7), at === 0 ? fds : []);
      } else send(a, bytes, fds);
      for (const fd of fds) libc.close(fd);
      if (i % 8 === 0) await tick();
    }
  },
  // Up to 253 fds over two sends of one message, then a header that cannot be resynchronised.
  async (a) => {
    send(a, version());
    const message = encodeCommand(1, VfioUserCommand.DEVICE_GET_INFO, false, new Uint8Array(200));
    const fds = Array.from({ length: 1 + a.int(253) }, () => libc.eventfd(0, EFD_CLOEXEC));
    send(a, message.subarray(0, 100), fds);
    for (const fd of fds) libc.close(fd);
    const bad = vfioUserHeaderLayout.encode({ msgId: 2, command: 3, msgSize: 0xffff_ffff, flags: 0, error: 0 });
    send(a, new Uint8Array([...message.subarray(100), ...bad]));
  },
  // Requests with large replies, never read.
  async (a) => {
    send(a, version());
    const read = encodeCommand(1, VfioUserCommand.REGION_READ, false, regionAccessLayout.encode({ offset: 0n, region: 7, count: 256 }));
    for (let turn = 0; turn < 50; turn++) {
      for (let i = 0; i < 64; i++) if (s.sendmsg(a.fd, read, []) === EAGAIN) break;
      await tick();
    }
  },
  // Silence, or a message begun and never finished.
  async (a) => {
    if (a.int(2)) send(a, version());
    if (a.int(2)) send(a, vfioUserHeaderLayout.encode({ msgId: 1, command: 4, msgSize: 4096, flags: 0, error: 0 }));
    await sleep(a.pick([0, 5, 60]));
  },
  // Windows over 4 GiB, truncated under the device, or message windows nobody answers; device DMA into them; a reset.
  async (a) => {
    send(a, version());
    const m = libc.memfdCreate("fuzz-hostile", MFD_CLOEXEC);
    const size = a.pick([(4n << 30n) + 4096n, 1n << 20n]);
    libc.ftruncate(m, size);
    send(a, encodeCommand(1, VfioUserCommand.DMA_MAP, false, dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 1n << 40n, size })), [m]);
    send(a, encodeCommand(2, VfioUserCommand.DMA_MAP, false, dmaMapLayout.encode({ argsz: 32, flags: 3, offset: 0n, address: 0n, size: 1n << 20n })));
    await sleep(2);
    const session = a.server.session;
    const dma: Promise<unknown>[] = [];
    for (let i = 0; i < 20 && session; i++) {
      if (i === 10) libc.ftruncate(m, 0n);
      const address = a.pick([1n << 40n, (1n << 40n) + size - 8n, BigInt(a.int(1 << 20)) & ~7n]);
      // Failures are expected (that is the attack); each is handled at once.
      dma.push((a.int(2) ? session.dmaRead(address, 8) : session.dmaWrite(address, new Uint8Array(8))).catch(() => undefined));
    }
    libc.close(m);
    if (a.int(2)) send(a, encodeCommand(3, VfioUserCommand.DEVICE_RESET, false));
    if (a.int(2)) await Promise.all(dma);
  },
  // An eventfd kept full, signalled by the device.
  async (a) => {
    send(a, version());
    const e = libc.eventfd(0, EFD_CLOEXEC);
    libc.write(e, new Uint8Array(new BigUint64Array([0xffff_ffff_ffff_fffen]).buffer));
    send(a, encodeCommand(1, VfioUserCommand.DEVICE_SET_IRQS, false, irqSetLayout.encode({ argsz: 20, flags: 0x24, index: 1, start: 0, count: 1 })), [e]);
    libc.close(e);
    await sleep(2);
    for (let i = 0; i < 100; i++) a.server.session?.signal(1, 0);
  },
];

async function stillServes(server: VfioUserServer): Promise<void> {
  while (server.session) await tick();
  const pair = s.socketpair() as [number, number];
  server.serve(new ScmTransport(pair[0]));
  const client = await VfioUserClient.over(new ScmTransport(pair[1]), "fresh client");
  try {
    // Device state outlives clients (an attacker may have turned memory decoding off): reset first.
    await client.reset();
    const id = await client.read(0, 0n, 4);
    const value = new DataView(id.buffer, id.byteOffset).getUint32(0, true);
    if (value !== EDU_ID) throw new Error(`a fresh client reads the edu identification register as 0x${value.toString(16)}, not 0x${EDU_ID.toString(16)}`);
  } finally {
    await client.close();
  }
  while (server.session) await tick();
}

/** Runs phases of hostile connections against one server; throws when a check fails. */
export async function fuzzHostileClients(options: FuzzOptions): Promise<FuzzReport> {
  const random = rng(options.seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const server = VfioUserServer.create(new EduDevice(), {
    maxDmaMaps: 64, maxQueuedReplyBytes: 64 * 1024, drainTimeoutMs: 50, messageTimeoutMs: 50, handshakeTimeoutMs: 100,
    maxPendingRequests: 16, requestTimeoutMs: 50, maxQueuedClients: 4,
  });
  // Warm up (code paths, caches, koffi) before measuring the baseline.
  await stillServes(server);
  // After a collection: fds a finalizer would close are not counted on either side.
  const memoryBefore = await memory();
  const fdsBefore = openFds();
  const tableBefore = fdTable();
  const deadline = options.seconds !== undefined ? Date.now() + options.seconds * 1000 : Infinity;
  const perPhase = options.connectionsPerPhase ?? 20;
  let phases = 0;
  let connections = 0;
  let messages = 0;
  let fdsAfter = fdsBefore;
  let memoryAfter = memoryBefore;
  while (phases < (options.phases ?? Infinity) && Date.now() < deadline) {
    for (let c = 0; c < perPhase; c++) {
      const pair = s.socketpair() as [number, number];
      server.serve(new ScmTransport(pair[0]));
      const attack: Attack = { fd: pair[1], server, int, pick, sent: 0 };
      await pick(attacks)(attack);
      messages += attack.sent;
      connections++;
      // The client leaves (at once or after the server has had a look).
      if (int(2)) await tick();
      s.close(pair[1]);
      while (server.session) await tick();
    }
    phases++;
    await stillServes(server);
    // Releases that wait on a timer (a request timing out after its client left) finish
    // within a request timeout: allow that long for the count to come back.
    memoryAfter = await memory();
    fdsAfter = openFds();
    for (let waited = 0; fdsAfter !== fdsBefore && waited < 500; waited += 10) {
      await sleep(10);
      fdsAfter = openFds();
    }
    options.onPhase?.(phases, { fds: fdsAfter - fdsBefore, memory: memoryAfter - memoryBefore });
    if (fdsAfter !== fdsBefore) {
      const extra = [...fdTable()].filter(([fd, what]) => tableBefore.get(fd) !== what).map(([fd, what]) => `${fd} → ${what}`);
      throw new Error(`phase ${phases}: ${fdsAfter - fdsBefore} fds more than at the start (${extra.join(", ") || "none left to name"})`);
    }
    if (memoryAfter - memoryBefore > 16 << 20) throw new Error(`phase ${phases}: memory grew by ${memoryAfter - memoryBefore} bytes`);
  }
  await server.close();
  return { phases, connections, messages, fdsBefore, fdsAfter, memoryBefore, memoryAfter };
}
