/**
 * A vfio-user client: a VfioDevice and a DmaSpace over a server's socket, so drivers written
 * against api/ run unchanged against a device served over vfio-user (DESIGN.md, "One model,
 * four backends").
 *
 * Over an fd-passing transport, DMA buffers are memfds handed to the server with DMA_MAP,
 * interrupts are eventfds handed over with SET_IRQS, and regions the server offers with an fd
 * are mmap'd for the data path. Without fds, DMA buffers are plain memory the client serves to
 * the server's DMA_READ/DMA_WRITE, and regions are reached with REGION_READ/WRITE only.
 *
 * A server is a peer, not the kernel: every reply is checked (sizes, echoed fields, counts,
 * capability chains) before it is believed (QEMU's "defend against a malign server").
 */
import type { DeviceInfo, IrqInfo, RegionCap, RegionInfo } from "../api/device-info.js";
import type { RegionMapping, VfioDevice } from "../api/device.js";
import type { DmaAllocateOptions, DmaBuffer, DmaSpace } from "../api/dma-space.js";
import type { EventNotifier } from "../api/event-notifier.js";
import type { IrqSetRequest } from "../api/irq-set.js";
import type { VfioOp } from "../api/op.js";
import { VfioProtocolError, VfioSystemError, errnoValue } from "../api/errors.js";
import { IovaAllocator } from "../api/iova-allocator.js";
import {
  VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
} from "../api/constants.js";
import { walkCapChain, decodeRegionCap } from "../abi/cap-chain.js";
import { VFIO_USER_F_ERROR, VFIO_USER_F_TYPE_MASK, VFIO_USER_F_TYPE_REPLY } from "../abi/vfio-user/header.js";
import { VfioUserCommand, vfioUserOp } from "../abi/vfio-user/command.js";
import {
  VFIO_USER_F_DMA_REGION_READ, VFIO_USER_F_DMA_REGION_WRITE, deviceInfoLayout, dmaAccessLayout, dmaMapLayout, dmaUnmapLayout,
  irqInfoLayout, irqSetLayout, regionAccessLayout, regionInfoLayout,
} from "../abi/vfio-user/messages.js";
import { loadLibc, MAP_SHARED, PROT_READ, PROT_WRITE } from "../native/libc.js";
import { KernelEventNotifier } from "../native/event-notifier.js";
import { allocateMemfd, type MemfdMemory } from "../native/process-memory.js";
import { MmapRegionMapping } from "../native/region-mapping.js";
import { encodeCommand, encodeErrorReply, encodeReply, type Message } from "./protocol/message.js";
import { VFIO_USER_MAJOR, VFIO_USER_MINOR, encodeVersion, parseVersion, type Capabilities } from "./protocol/version.js";
import { connectTransport, type ConnectOptions } from "./transport/connect.js";
import { ScmTransport } from "./transport/scm-transport.js";
import type { Transport } from "./transport/transport.js";

export interface ClientOptions extends ConnectOptions {
  /** Ask for twin-socket mode (default true where fds pass). */
  readonly twinSocket?: boolean;
  /** The max_data_xfer_size this client accepts for DMA_READ/WRITE (default 1 MiB). */
  readonly maxDataXferSize?: number;
  /**
   * Hand DMA memory to the server as memfds (default true where fds pass). false keeps DMA
   * memory private: the server reaches it with DMA_READ/DMA_WRITE (on the twin socket, if any).
   */
  readonly dmaFds?: boolean;
  /**
   * How long to wait for the reply to VERSION, in ms (default: no limit). A server busy with
   * another client, or a peer that is no vfio-user server, may never answer.
   */
  readonly versionTimeoutMs?: number;
}

/** QEMU's cap on regions and IRQ indexes a server may claim (hw/vfio-user VFIO_USER_MAX_REGIONS). */
const MAX_REGIONS = 100;
const MAX_IRQS = 100;
/** The largest region-info reply the client will grow to. */
const MAX_REGION_INFO = 64 * 1024;
const PAGE = 4096;

interface Pending {
  readonly op: VfioOp;
  resolve(message: Message): void;
  reject(error: Error): void;
}

/** One DMA buffer of this client. */
class UserDmaBuffer implements DmaBuffer {
  #freed = false;
  constructor(
    readonly iova: bigint,
    readonly size: number,
    readonly bytes: Uint8Array,
    readonly read: boolean,
    readonly write: boolean,
    private readonly release: () => Promise<void>,
  ) {}

  async free(): Promise<void> {
    if (this.#freed) return;
    this.#freed = true;
    await this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.free();
  }
}

export class VfioUserClient implements VfioDevice, DmaSpace {
  readonly name: string;
  readonly #transport: Transport;
  #twin: Transport | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;
  #closeError: Error | undefined;
  /** The server's capabilities and the agreed minor version. */
  serverCaps!: Capabilities;
  minor = 0;
  readonly #regionFds = new Map<number, number>();
  readonly #regionInfo = new Map<number, RegionInfo>();
  readonly #buffers = new Set<UserDmaBuffer>();
  readonly #mappings = new Set<MmapRegionMapping>();
  readonly #iova = new IovaAllocator([{ start: 0n, end: (1n << 64n) - 1n }], BigInt(PAGE));
  readonly #maxDataXferSize: number;
  readonly #dmaFds: boolean;

  private constructor(name: string, transport: Transport, options: ClientOptions) {
    this.name = name;
    this.#transport = transport;
    this.#maxDataXferSize = options.maxDataXferSize ?? 1 << 20;
    this.#dmaFds = transport.canPassFds && (options.dmaFds ?? true);
  }

  /** Connects to the server at `path` and negotiates VERSION. */
  static async connect(path: string, options: ClientOptions = {}): Promise<VfioUserClient> {
    return VfioUserClient.over(await connectTransport(path, options), path, options);
  }

  /** Negotiates VERSION over an open transport. */
  static async over(transport: Transport, name: string, options: ClientOptions = {}): Promise<VfioUserClient> {
    const client = new VfioUserClient(name, transport, options);
    transport.start({
      message: (m) => client.#onMessage(m, transport),
      closed: (error) => client.#onClosed(error),
    });
    try {
      await client.#negotiate(options.twinSocket ?? transport.canPassFds, options.versionTimeoutMs);
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /**
   * Whether fds pass on this connection (memfd DMA, eventfd interrupts, mmap): the transport
   * can carry them and the server takes them (a max_msg_fds of 0 says it cannot).
   */
  get canPassFds(): boolean {
    return this.#transport.canPassFds && (this.serverCaps === undefined || this.serverCaps.maxMsgFds > 0);
  }

  /** Whether twin-socket mode is on. */
  get twinSocket(): boolean {
    return this.#twin !== undefined;
  }

  async #negotiate(twin: boolean, timeoutMs: number | undefined): Promise<void> {
    const payload = encodeVersion(VFIO_USER_MAJOR, VFIO_USER_MINOR, {
      maxMsgFds: 8,
      maxDataXferSize: this.#maxDataXferSize,
      ...(twin ? { twinSocket: { supported: true } } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (timeoutMs === undefined) return;
      timer = setTimeout(() => reject(new VfioSystemError("VFIO_USER_VERSION", errnoValue("ETIMEDOUT"), "vfio-user", this.name,
        `no reply to VERSION within ${timeoutMs} ms: the server is busy with another client, or it is not a vfio-user server`)), timeoutMs);
    });
    const notVfioUser = (why: string): VfioProtocolError => new VfioProtocolError(`${this.name} is not a vfio-user server: ${why}`, "version");
    let reply: Message | undefined;
    let v: ReturnType<typeof parseVersion>;
    try {
      reply = await Promise.race([this.request(VfioUserCommand.VERSION, [payload]), timeout]);
      v = parseVersion(reply.payload);
    } catch (error) {
      // The first bytes of the peer decide: a vfio-user server's first message is the VERSION
      // reply (spec §"Version"); anything the reader cannot frame, or a payload that is no
      // version, means the peer speaks something else.
      if (this.#closeError instanceof VfioProtocolError) throw notVfioUser(`its answer is not a vfio-user message (${this.#closeError.message})`);
      reply?.fds.forEach((fd) => loadLibc().close(fd));
      if (error instanceof VfioProtocolError) throw notVfioUser(`its reply to VERSION is malformed (${error.message})`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    // The reply major must equal ours, the minor be no higher (spec §"Version").
    if (v.major !== VFIO_USER_MAJOR || v.minor > VFIO_USER_MINOR) {
      reply.fds.forEach((fd) => loadLibc().close(fd));
      throw new VfioProtocolError(`server answered version ${v.major}.${v.minor} to ${VFIO_USER_MAJOR}.${VFIO_USER_MINOR}`, "minor");
    }
    this.minor = v.minor;
    this.serverCaps = v.capabilities;
    const ts = v.capabilities.twinSocket;
    const fds = [...reply.fds];
    if (ts?.supported) {
      if (!twin) throw new VfioProtocolError("twin_socket in the reply was not offered", "twin_socket");
      // supported without a valid fd_index: the client must abort (spec §"Version").
      const fd = ts.fdIndex !== undefined ? fds[ts.fdIndex] : undefined;
      if (fd === undefined) {
        fds.forEach((f) => loadLibc().close(f));
        throw new VfioProtocolError("twin_socket without a valid fd_index", "twin_socket.fd_index");
      }
      fds.splice(ts.fdIndex!, 1);
      const t = new ScmTransport(fd, { name: `${this.name} (twin)` });
      this.#twin = t;
      t.start({ message: (m) => this.#onMessage(m, t), closed: (error) => this.#onClosed(error) });
    }
    fds.forEach((f) => loadLibc().close(f));
  }

  #onMessage(message: Message, from: Transport): void {
    const { header } = message;
    if ((header.flags & VFIO_USER_F_TYPE_MASK) === VFIO_USER_F_TYPE_REPLY) {
      const pending = from === this.#transport ? this.#pending.get(header.msgId) : undefined;
      if (!pending) {
        message.fds.forEach((fd) => loadLibc().close(fd));
        return;
      }
      this.#pending.delete(header.msgId);
      if (header.flags & VFIO_USER_F_ERROR) {
        message.fds.forEach((fd) => loadLibc().close(fd));
        pending.reject(new VfioSystemError(pending.op, header.error || errnoValue("EIO"), "vfio-user", this.name));
      } else {
        pending.resolve(message);
      }
      return;
    }
    // Server → client commands: DMA_READ/DMA_WRITE.
    message.fds.forEach((fd) => loadLibc().close(fd));
    let reply: Uint8Array;
    try {
      reply = this.#serveDma(message);
    } catch (error) {
      const errno = error instanceof VfioSystemError ? error.errno : errnoValue("EINVAL");
      reply = encodeErrorReply(header, errno);
    }
    try {
      from.send(reply);
    } catch {
      // Closed meanwhile.
    }
  }

  #serveDma(message: Message): Uint8Array {
    const { header, payload } = message;
    const fail = (errno: string): VfioSystemError => new VfioSystemError(vfioUserOp(header.command), errnoValue(errno as "EINVAL"), "vfio-user", this.name);
    if (header.command !== VfioUserCommand.DMA_READ && header.command !== VfioUserCommand.DMA_WRITE) throw fail("EINVAL");
    if (payload.byteLength < dmaAccessLayout.size) throw fail("EINVAL");
    const req = dmaAccessLayout.decode(payload);
    if (req.count > BigInt(this.#maxDataXferSize)) throw fail("EINVAL");
    const count = Number(req.count);
    const write = header.command === VfioUserCommand.DMA_WRITE;
    if (payload.byteLength !== dmaAccessLayout.size + (write ? count : 0)) throw fail("EINVAL");
    const end = req.address + req.count;
    const buffer = [...this.#buffers].find((b) => b.iova <= req.address && end <= b.iova + BigInt(b.size));
    if (!buffer || (write ? !buffer.write : !buffer.read)) throw fail("EFAULT");
    const at = Number(req.address - buffer.iova);
    if (write) {
      buffer.bytes.set(payload.subarray(dmaAccessLayout.size), at);
      // libvfio-user expects the 16-byte prefix echoed (VFIO-USER.md §4.9).
      return encodeReply(header, payload.subarray(0, dmaAccessLayout.size));
    }
    return encodeReply(header, payload, buffer.bytes.subarray(at, at + count));
  }

  #onClosed(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closeError = error;
    void this.close();
  }

  /**
   * Sends a command and resolves with its reply; rejects with VfioSystemError carrying the
   * reply's errno (code "EINVAL", op "VFIO_USER_REGION_READ", ...).
   */
  request(command: number, parts: readonly Uint8Array[], fds: readonly number[] = []): Promise<Message> {
    const op = vfioUserOp(command);
    // As a closed device fd answers EBADF (a lost connection answers ECONNRESET to what was in flight).
    if (this.#closed) return Promise.reject(new VfioSystemError(op, errnoValue("EBADF"), "vfio-user", this.name, "the device is closed"));
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    return new Promise<Message>((resolve, reject) => {
      this.#pending.set(id, { op, resolve, reject });
      try {
        this.#transport.send(encodeCommand(id, command, false, ...parts), fds);
      } catch (error) {
        this.#pending.delete(id);
        reject(error as Error);
      }
    });
  }

  #protocol(message: string, field: string): VfioProtocolError {
    return new VfioProtocolError(`${this.name}: ${message}`, field);
  }

  async info(): Promise<DeviceInfo> {
    const reply = await this.request(VfioUserCommand.DEVICE_GET_INFO, [deviceInfoLayout.encode({ argsz: deviceInfoLayout.size })]);
    this.#closeFds(reply);
    if (reply.payload.byteLength < deviceInfoLayout.size) throw this.#protocol("short DEVICE_GET_INFO reply", "msg_size");
    const info = deviceInfoLayout.decode(reply.payload);
    if (info.numRegions > MAX_REGIONS) throw this.#protocol(`num_regions ${info.numRegions} > ${MAX_REGIONS}`, "num_regions");
    if (info.numIrqs > MAX_IRQS) throw this.#protocol(`num_irqs ${info.numIrqs} > ${MAX_IRQS}`, "num_irqs");
    return { flags: info.flags, numRegions: info.numRegions, numIrqs: info.numIrqs };
  }

  #closeFds(reply: Message): void {
    reply.fds.forEach((fd) => loadLibc().close(fd));
  }

  async regionInfo(index: number): Promise<RegionInfo> {
    let argsz = regionInfoLayout.size;
    for (let attempt = 0; attempt < 3; attempt++) {
      const reply = await this.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz, index })]);
      const fds = [...reply.fds];
      try {
        if (reply.payload.byteLength < regionInfoLayout.size) throw this.#protocol("short region info reply", "msg_size");
        const r = regionInfoLayout.decode(reply.payload);
        if (r.index !== index) throw this.#protocol(`region info for ${r.index}, asked ${index}`, "index");
        // argsz grew: the caps did not fit; ask again with room (spec §"argsz convention").
        if (r.argsz > argsz && r.argsz <= MAX_REGION_INFO && attempt < 2) {
          argsz = r.argsz;
          continue;
        }
        let caps: RegionCap[] = [];
        if (r.capOffset !== 0) {
          const raw = walkCapChain({ buffer: reply.payload, capOffset: r.capOffset, argsz: Math.min(r.argsz, reply.payload.byteLength), infoSize: regionInfoLayout.size });
          caps = raw.map(decodeRegionCap);
        }
        const info: RegionInfo = { index, flags: r.flags, size: r.size, offset: r.offset, caps };
        if (r.flags & VFIO_REGION_INFO_FLAG_MMAP && fds.length > 0) {
          const old = this.#regionFds.get(index);
          if (old !== undefined) loadLibc().close(old);
          this.#regionFds.set(index, fds.shift()!);
        }
        this.#regionInfo.set(index, info);
        return info;
      } finally {
        fds.forEach((fd) => loadLibc().close(fd));
      }
    }
    throw this.#protocol("region info argsz kept growing", "argsz");
  }

  async read(index: number, offset: bigint, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const chunk = this.serverCaps.maxDataXferSize;
    const parts: Promise<void>[] = [];
    for (let at = 0; at < length || (length === 0 && at === 0); at += chunk) {
      const n = Math.min(chunk, length - at);
      const o = offset + BigInt(at);
      parts.push(this.#readPiece(index, o, n).then((data) => out.set(data, at)));
      if (length === 0) break;
    }
    await Promise.all(parts);
    return out;
  }

  async #readPiece(index: number, offset: bigint, count: number): Promise<Uint8Array> {
    const reply = await this.request(VfioUserCommand.REGION_READ, [regionAccessLayout.encode({ offset, region: index, count })]);
    this.#closeFds(reply);
    if (reply.payload.byteLength !== regionAccessLayout.size + count) throw this.#protocol(`REGION_READ reply of ${reply.payload.byteLength} bytes for ${count}`, "count");
    const r = regionAccessLayout.decode(reply.payload);
    if (r.offset !== offset || r.region !== index || r.count !== count) throw this.#protocol("REGION_READ reply does not echo the request", "offset");
    return reply.payload.subarray(regionAccessLayout.size);
  }

  async write(index: number, offset: bigint, data: Uint8Array): Promise<void> {
    const chunk = this.serverCaps.maxDataXferSize;
    const parts: Promise<Message>[] = [];
    for (let at = 0; at < data.byteLength || (data.byteLength === 0 && at === 0); at += chunk) {
      const piece = data.subarray(at, Math.min(at + chunk, data.byteLength));
      parts.push(this.request(VfioUserCommand.REGION_WRITE, [regionAccessLayout.encode({ offset: offset + BigInt(at), region: index, count: piece.byteLength }), piece]));
      if (data.byteLength === 0) break;
    }
    for (const reply of await Promise.all(parts)) this.#closeFds(reply);
  }

  async mapRegion(index: number, offset = 0n, size?: bigint): Promise<RegionMapping> {
    const info = this.#regionInfo.get(index) ?? (await this.regionInfo(index));
    const fd = this.#regionFds.get(index);
    const einval = (hint: string): VfioSystemError => new VfioSystemError("mmap", errnoValue("EINVAL"), "vfio-user", `${this.name} region ${index}`, hint);
    if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP) || fd === undefined) throw einval("the server offers no fd to map this region");
    const length = size ?? info.size - offset;
    if (offset < 0n || length <= 0n || offset + length > info.size) throw einval(`[${offset}, ${offset + length}) is outside the region`);
    if (offset % BigInt(PAGE) !== 0n) throw einval("offset is not page-aligned");
    const sparse = info.caps.find((c) => c.kind === "sparse-mmap");
    if (sparse && sparse.kind === "sparse-mmap" && !sparse.areas.some((a) => a.offset <= offset && offset + length <= a.offset + a.size)) {
      throw einval("the range is not inside one mmap-able area");
    }
    const libc = loadLibc();
    const prot = (info.flags & VFIO_REGION_INFO_FLAG_READ ? PROT_READ : 0) | (info.flags & VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE : 0);
    const address = libc.mmap(Number(length), prot, MAP_SHARED, fd, info.offset + offset);
    if (address < 0n) throw new VfioSystemError("mmap", Number(-address), "vfio-user", `${this.name} region ${index}`);
    const mapping = new MmapRegionMapping(libc, index, offset, Number(length), address, () => this.#mappings.delete(mapping));
    this.#mappings.add(mapping);
    return mapping;
  }

  async irqInfo(index: number): Promise<IrqInfo> {
    const reply = await this.request(VfioUserCommand.DEVICE_GET_IRQ_INFO, [irqInfoLayout.encode({ argsz: irqInfoLayout.size, index })]);
    this.#closeFds(reply);
    if (reply.payload.byteLength < irqInfoLayout.size) throw this.#protocol("short IRQ info reply", "msg_size");
    const r = irqInfoLayout.decode(reply.payload);
    if (r.index !== index) throw this.#protocol(`IRQ info for ${r.index}, asked ${index}`, "index");
    return { index, flags: r.flags, count: r.count };
  }

  async setIrqs(request: IrqSetRequest): Promise<void> {
    const dataType = request.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (dataType === VFIO_IRQ_SET_DATA_BOOL) {
      const bools = request.bools ?? [];
      const data = new Uint8Array(request.count);
      for (let i = 0; i < request.count; i++) data[i] = bools[i] ? 1 : 0;
      await this.#setIrqs(request.flags, request.index, request.start, request.count, data, []);
      return;
    }
    if (dataType !== VFIO_IRQ_SET_DATA_EVENTFD) {
      await this.#setIrqs(request.flags, request.index, request.start, request.count, new Uint8Array(0), []);
      return;
    }
    const notifiers = request.notifiers ?? [];
    const fds: (number | null)[] = [];
    for (let i = 0; i < request.count; i++) {
      const n = notifiers[i] ?? null;
      if (n !== null && n.fd === undefined) throw new VfioSystemError("VFIO_USER_DEVICE_SET_IRQS", errnoValue("EINVAL"), "vfio-user", this.name, "a notifier without an eventfd cannot be passed");
      fds.push(n === null ? null : n.fd!);
    }
    if (fds.some((fd) => fd !== null) && !this.canPassFds) {
      throw new VfioSystemError("VFIO_USER_DEVICE_SET_IRQS", errnoValue("EINVAL"), "vfio-user", this.name, "this connection cannot pass eventfds");
    }
    // vfio-user has no "-1" fd: a run of notifiers is sent with its fds, a run of nulls with
    // none (which de-assigns), each run in messages of at most the server's max_msg_fds.
    const max = Math.max(1, this.serverCaps.maxMsgFds);
    let i = 0;
    if (request.count === 0) {
      await this.#setIrqs(request.flags, request.index, request.start, 0, new Uint8Array(0), []);
      return;
    }
    while (i < fds.length) {
      const assign = fds[i] !== null;
      let j = i;
      while (j < fds.length && (fds[j] !== null) === assign && (!assign || j - i < max)) j++;
      await this.#setIrqs(request.flags, request.index, request.start + i, j - i, new Uint8Array(0), assign ? (fds.slice(i, j) as number[]) : []);
      i = j;
    }
  }

  async #setIrqs(flags: number, index: number, start: number, count: number, data: Uint8Array, fds: readonly number[]): Promise<void> {
    const head = irqSetLayout.encode({ argsz: irqSetLayout.size + data.byteLength, flags, index, start, count });
    this.#closeFds(await this.request(VfioUserCommand.DEVICE_SET_IRQS, [head, data], fds));
  }

  createNotifier(): EventNotifier {
    return new KernelEventNotifier(loadLibc());
  }

  async reset(): Promise<void> {
    this.#closeFds(await this.request(VfioUserCommand.DEVICE_RESET, []));
  }

  // DmaSpace.

  async allocate(size: number, options: DmaAllocateOptions = {}): Promise<DmaBuffer> {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`DMA buffer size ${size} is not a positive byte count`);
    const rounded = Math.ceil(size / PAGE) * PAGE;
    const read = options.read ?? true;
    const write = options.write ?? true;
    const iova = this.#iova.allocate(BigInt(rounded), {
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.iova !== undefined ? { iova: options.iova } : {}),
    });
    let memory: MemfdMemory | undefined;
    let bytes: Uint8Array;
    try {
      if (this.#dmaFds && this.canPassFds) {
        memory = allocateMemfd(loadLibc(), rounded, { name: "vfio-user-dma" });
        bytes = memory.bytes;
      } else {
        bytes = new Uint8Array(rounded);
      }
      const flags = (read ? VFIO_USER_F_DMA_REGION_READ : 0) | (write ? VFIO_USER_F_DMA_REGION_WRITE : 0);
      const map = dmaMapLayout.encode({ argsz: dmaMapLayout.size, flags, offset: 0n, address: iova, size: BigInt(rounded) });
      this.#closeFds(await this.request(VfioUserCommand.DMA_MAP, [map], memory ? [memory.fd!] : []));
    } catch (error) {
      memory?.free();
      this.#iova.release(iova);
      throw error;
    }
    const buffer: UserDmaBuffer = new UserDmaBuffer(iova, rounded, bytes, read, write, async () => {
      this.#buffers.delete(buffer);
      try {
        if (!this.#closed) {
          const unmap = dmaUnmapLayout.encode({ argsz: dmaUnmapLayout.size, flags: 0, address: iova, size: BigInt(rounded) });
          this.#closeFds(await this.request(VfioUserCommand.DMA_UNMAP, [unmap]));
        }
      } finally {
        this.#iova.release(iova);
        memory?.free();
      }
    });
    this.#buffers.add(buffer);
    return buffer;
  }

  /**
   * DMA_MAP of memory the caller owns: `fd` (sent with the message, still the caller's) at
   * `offset`, or no fd for a window the server must reach by DMA_READ/WRITE (which this client
   * then answers only for memory it allocated itself).
   */
  async dmaMap(request: { readonly iova: bigint; readonly size: bigint; readonly read: boolean; readonly write: boolean; readonly fd?: number; readonly offset?: bigint }): Promise<void> {
    const flags = (request.read ? VFIO_USER_F_DMA_REGION_READ : 0) | (request.write ? VFIO_USER_F_DMA_REGION_WRITE : 0);
    const map = dmaMapLayout.encode({ argsz: dmaMapLayout.size, flags, offset: request.offset ?? 0n, address: request.iova, size: request.size });
    this.#closeFds(await this.request(VfioUserCommand.DMA_MAP, [map], request.fd !== undefined ? [request.fd] : []));
  }

  /** DMA_UNMAP of exactly one earlier window. */
  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    const unmap = dmaUnmapLayout.encode({ argsz: dmaUnmapLayout.size, flags: 0, address: iova, size });
    this.#closeFds(await this.request(VfioUserCommand.DMA_UNMAP, [unmap]));
  }

  /** Closes the connection, unmaps regions, frees DMA memory, closes region fds. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
    this.#twin?.close();
    const error = new VfioSystemError("VFIO_USER_VERSION", errnoValue("ECONNRESET"), "vfio-user", this.name, this.#closeError ? `connection lost: ${this.#closeError.message}` : "the connection is closed");
    for (const p of this.#pending.values()) p.reject(new VfioSystemError(p.op, error.errno, "vfio-user", this.name, error.hint));
    this.#pending.clear();
    for (const m of [...this.#mappings]) m.unmap();
    for (const b of [...this.#buffers]) await b.free();
    for (const fd of this.#regionFds.values()) loadLibc().close(fd);
    this.#regionFds.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
