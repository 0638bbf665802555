/**
 * Fuzzing the server with a fixed seed: random and mutated messages of every command, with
 * fds of every kind attached, first straight into connections (in-memory transport, 100,000+
 * messages), then as raw bytes over real sockets (framing: truncated, oversized, garbage).
 * Afterwards: the process has exactly the fds and client mappings it had before, and the
 * server still serves a well-behaved client.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSync, readFileSync, readdirSync } from "node:fs";
import { VfioUserCommand } from "../../src/abi/vfio-user/command.js";
import { VFIO_USER_HEADER_SIZE, vfioUserHeaderLayout } from "../../src/abi/vfio-user/header.js";
import {
  deviceFeatureLayout, deviceInfoLayout, dmaLoggingControlLayout, dmaLoggingReportLayout, dmaMapLayout, dmaUnmapLayout,
  irqInfoLayout, irqSetLayout, regionAccessLayout, regionInfoLayout, regionIoFdsLayout, writeMultiEntryLayout, writeMultiLayout,
} from "../../src/abi/vfio-user/messages.js";
import { EduDevice, EDU_ID } from "../../src/devices/edu.js";
import { EFD_CLOEXEC, MFD_CLOEXEC, loadLibc } from "../../src/native/libc.js";
import { loadSocketLibc } from "../../src/native/socket.js";
import { VfioUserClient } from "../../src/user/client.js";
import { encodeVersion } from "../../src/user/protocol/version.js";
import type { Message } from "../../src/user/protocol/message.js";
import { VfioUserServer } from "../../src/user/server.js";
import { ScmTransport } from "../../src/user/transport/scm-transport.js";
import type { Transport, TransportHandlers } from "../../src/user/transport/transport.js";

const SEED = 0x5eed_2026;
const MESSAGES = 100_000;
const SOCKET_CONNECTIONS = 200;

/** mulberry32: small, fast, good enough to drive a fuzzer deterministically. */
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

const openFds = (): number => readdirSync("/proc/self/fd").length;
const fuzzMappings = (): number => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("fuzz-dma")).length;

/** A connection with no socket: the test delivers messages, replies are counted. */
class MemoryTransport implements Transport {
  readonly canPassFds = true;
  handlers: TransportHandlers | undefined;
  closed = false;
  replies = 0;
  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  send(_message: Uint8Array, _fds?: readonly number[], sent?: () => void): void {
    if (this.closed) throw new Error("closed");
    this.replies++;
    sent?.();
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.closed();
  }
}

function generator(random: () => number) {
  const libc = loadLibc();
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const big = (): bigint => pick([0n, 0x1000n, 0x10000n, BigInt(int(1 << 20)) * 4096n, BigInt(int(2 ** 32)), (1n << 64n) - 4096n, BigInt(int(64)) << 12n]);
  const smallCount = (): number => pick([0, 1, 2, 4, 8, 16, 256, 4096, int(1 << 21), 0xffff_ffff]);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));

  function fd(): number {
    switch (int(4)) {
      case 0: {
        const m = libc.memfdCreate("fuzz-dma", MFD_CLOEXEC);
        libc.ftruncate(m, BigInt(pick([0, 4096, 8192, 65536])));
        return m;
      }
      case 1: return libc.eventfd(0, EFD_CLOEXEC);
      case 2: return openSync("/dev/null", "r");
      default: {
        const pair = loadSocketLibc().socketpair() as [number, number];
        libc.close(pair[1]);
        return pair[0];
      }
    }
  }

  function payload(command: number): Uint8Array {
    const region = pick([0, 0, 7, 7, 1, 6, 8, 9, int(2 ** 32)]);
    switch (command) {
      case VfioUserCommand.VERSION: return encodeVersion(0, int(4), pick([{}, { maxMsgFds: int(2000) }, { twinSocket: { supported: random() < 0.5 } }, { maxDataXferSize: int(1 << 22) }]));
      case VfioUserCommand.DMA_MAP: return dmaMapLayout.encode({ argsz: pick([32, 32, 16, int(100)]), flags: pick([1, 2, 3, 3, 4, 7, 8, int(2 ** 32)]), offset: pick([0n, 0n, 4096n, big()]), address: big(), size: pick([4096n, 8192n, 65536n, big()]) });
      case VfioUserCommand.DMA_UNMAP: return dmaUnmapLayout.encode({ argsz: pick([24, 24, 8]), flags: pick([0, 0, 1, 2, 4]), address: big(), size: pick([4096n, 8192n, 0n, big()]) });
      case VfioUserCommand.DEVICE_GET_INFO: return deviceInfoLayout.encode({ argsz: pick([16, 8, int(1 << 20)]) });
      case VfioUserCommand.DEVICE_GET_REGION_INFO: return regionInfoLayout.encode({ argsz: pick([32, 80, 8, int(1 << 20)]), index: region });
      case VfioUserCommand.DEVICE_GET_REGION_IO_FDS: return regionIoFdsLayout.encode({ argsz: pick([16, 64, int(1 << 17)]), index: region, flags: pick([0, 0, 1]), count: pick([0, 0, 3]) });
      case VfioUserCommand.DEVICE_GET_IRQ_INFO: return irqInfoLayout.encode({ argsz: 16, index: pick([0, 1, 2, 3, 4, 5, int(2 ** 32)]) });
      case VfioUserCommand.DEVICE_SET_IRQS: {
        const count = pick([0, 1, 1, 2, int(40)]);
        const flags = pick([0x24, 0x24, 0x21, 0x22, 0x11, 0x09, 0x14, int(256)]);
        const data = flags & 2 ? bytes(pick([count, count + 1])) : new Uint8Array(0);
        return concat(irqSetLayout.encode({ argsz: pick([20 + data.byteLength, 20, int(64)]), flags, index: pick([0, 1, 1, 2, 3, 4, 5]), start: pick([0, 0, 1, int(2 ** 32)]), count }), data);
      }
      case VfioUserCommand.REGION_READ: return regionAccessLayout.encode({ offset: pick([0n, 4n, 0x98n, 0x20n, 0xfcn, big()]), region, count: smallCount() });
      case VfioUserCommand.REGION_WRITE: {
        const count = pick([1, 2, 4, 4, 8, 8, 16, int(300)]);
        return concat(regionAccessLayout.encode({ offset: pick([0n, 4n, 8n, 0x20n, 0x60n, 0x64n, 0x80n, 0x88n, 0x90n, 0x98n, 0x04n, 0x10n, big()]), region, count: pick([count, count, smallCount()]) }), bytes(count));
      }
      case VfioUserCommand.DEVICE_RESET: return random() < 0.8 ? new Uint8Array(0) : bytes(int(8));
      case VfioUserCommand.REGION_WRITE_MULTI: {
        const n = pick([1, 2, 3, 200, 201, 0]);
        const entries = Array.from({ length: Math.min(n, 5) }, () => writeMultiEntryLayout.encode({ offset: pick([4n, 0x60n, big()]), region, count: pick([4, 8, 9, 0]), data: bytes(8) }));
        return concat(writeMultiLayout.encode({ wrCnt: BigInt(n) }), ...entries);
      }
      case VfioUserCommand.DEVICE_FEATURE: {
        const feature = pick([1, 2, 6, 7, 8, int(0x10000)]);
        const flags = feature | pick([0x10000, 0x20000, 0x40000, 0x60000, 0x30000, 0]);
        const data = feature === 6
          ? concat(dmaLoggingControlLayout.encode({ pageSize: pick([4096n, 8192n, 1000n, 0n]), numRanges: pick([0, 1, 2]) }), bytes(pick([0, 16, 32])))
          : feature === 8 ? dmaLoggingReportLayout.encode({ iova: big(), length: pick([4096n, 0x10000n, big()]), pageSize: pick([4096n, 1n, 0n]) }) : bytes(int(16));
        return concat(deviceFeatureLayout.encode({ argsz: pick([8 + data.byteLength, 8 + data.byteLength + 64, int(1 << 20)]), flags }), data);
      }
      default: return bytes(int(64));
    }
  }

  function mutate(p: Uint8Array): Uint8Array {
    switch (int(6)) {
      case 0: {
        const out = p.slice();
        for (let i = 0, n = 1 + int(4); i < n && out.byteLength > 0; i++) out[int(out.byteLength)] = int(256);
        return out;
      }
      case 1: return p.subarray(0, int(p.byteLength + 1));
      case 2: return concat(p, bytes(1 + int(32)));
      case 3: return bytes(int(96));
      default: return p;
    }
  }

  const commands = [1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 10, 11, 12, 13, 14, 15, 15, 16, 16, 17, 18, 19, 0, 0xffff];
  return {
    message(msgId: number): Message {
      const command = pick(commands);
      const p = random() < 0.6 ? payload(command) : mutate(payload(command));
      const fds = random() < 0.25 ? Array.from({ length: pick([1, 1, 1, 2, 3, 9]) }, fd) : [];
      const flags = pick([0, 0, 0, 0, 0, 0x10, 0x1, 0x20, int(2 ** 32)]);
      return { header: { msgId, command, msgSize: VFIO_USER_HEADER_SIZE + p.byteLength, flags, error: pick([0, 0, int(200)]) }, payload: p, fds };
    },
    version(): Message {
      return { header: { msgId: 0, command: 1, msgSize: 0, flags: 0, error: 0 }, payload: payload(VfioUserCommand.VERSION), fds: [] };
    },
    bytes,
    int,
    fd,
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

async function stillServes(server: VfioUserServer): Promise<void> {
  const pair = loadSocketLibc().socketpair() as [number, number];
  server.serve(new ScmTransport(pair[0]));
  const client = await VfioUserClient.over(new ScmTransport(pair[1]), "after fuzzing");
  try {
    await client.reset();
    const id = await client.read(0, 0n, 4);
    assert.equal(new DataView(id.buffer, id.byteOffset).getUint32(0, true), EDU_ID);
  } finally {
    await client.close();
  }
  while (server.session) await new Promise((r) => setImmediate(r));
}

test(`fuzz: ${MESSAGES} random and mutated messages (seed ${SEED.toString(16)}) leave no fd, no mapping, and a working server`, async () => {
  const fdsBefore = openFds();
  const mapsBefore = fuzzMappings();
  const random = rng(SEED);
  const gen = generator(random);
  const server = VfioUserServer.create(new EduDevice(), { maxDmaMaps: 64 });
  let transport = new MemoryTransport();
  server.serve(transport);
  transport.handlers!.message(gen.version());
  let connections = 1;
  let replies = 0;
  for (let i = 0; i < MESSAGES; i++) {
    if (transport.closed) {
      replies += transport.replies;
      transport = new MemoryTransport();
      // The previous connection finishes releasing on a later turn; then the server takes this one.
      while (server.session) await new Promise((r) => setImmediate(r));
      server.serve(transport);
      connections++;
      if (random() < 0.9) transport.handlers!.message(gen.version());
    }
    transport.handlers!.message(gen.message(i & 0xffff));
    // Let the model's DMA and the event loop run now and then; reconnect now and then.
    if (i % 997 === 0) {
      await new Promise((r) => setImmediate(r));
      if (random() < 0.3) transport.close();
    }
  }
  replies += transport.replies;
  transport.close();
  await stillServes(server);
  await server.close();
  assert.ok(replies > MESSAGES / 2, `${replies} replies`);
  assert.ok(connections > 10, `${connections} connections`);
  assert.equal(fuzzMappings(), mapsBefore, "every client mapping released");
  assert.equal(openFds(), fdsBefore, "every fd closed");
});

test(`fuzz over sockets: ${SOCKET_CONNECTIONS} connections of garbage, truncated and oversized frames`, async () => {
  const fdsBefore = openFds();
  const random = rng(SEED + 1);
  const gen = generator(random);
  const s = loadSocketLibc();
  const server = VfioUserServer.create(new EduDevice(), { maxDmaMaps: 64 });
  for (let c = 0; c < SOCKET_CONNECTIONS; c++) {
    const pair = s.socketpair() as [number, number];
    server.serve(new ScmTransport(pair[0]));
    const peer = pair[1];
    const frames: Uint8Array[] = [];
    const valid = gen.version();
    frames.push(concat(vfioUserHeaderLayout.encode({ msgId: 0, command: 1, msgSize: 16 + valid.payload.byteLength, flags: 0 }), valid.payload));
    for (let i = 0, n = 1 + gen.int(20); i < n; i++) {
      const m = gen.message(i);
      let size = 16 + m.payload.byteLength;
      switch (gen.int(8)) {
        case 0: size = gen.int(16); break;
        case 1: size = 0xffff_ffff; break;
        case 2: size = (1 << 20) + 33; break;
        case 3: size = Math.max(16, size - 1 - gen.int(8)); break;
      }
      const header = vfioUserHeaderLayout.encode({ msgId: i, command: m.header.command, msgSize: size, flags: m.header.flags });
      const frame = random() < 0.1 ? gen.bytes(gen.int(64)) : concat(header, m.payload);
      frames.push(frame);
      for (const fd of m.fds) loadLibc().close(fd);
    }
    for (const frame of frames) {
      const fds = random() < 0.2 ? [gen.fd()] : [];
      s.sendmsg(peer, frame, fds);
      for (const fd of fds) loadLibc().close(fd);
    }
    // Leave half the connections to the server to notice; close the other half at once.
    await new Promise((r) => setImmediate(r));
    s.close(peer);
    while (server.session) await new Promise((r) => setImmediate(r));
  }
  await stillServes(server);
  await server.close();
  assert.equal(openFds(), fdsBefore, "every fd closed");
});
