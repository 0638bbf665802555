/**
 * The server's protocol core: one command in, one reply out, synchronously and in arrival
 * order (spec §"Header": a NO_REPLY command finishes before a later command's reply). No
 * sockets here: tests call it with encoded messages.
 *
 * Every field a client sends is checked before it is used (libvfio-user's
 * is_valid_header and handle_* functions): sizes against msg_size, counts against limits,
 * flags against the bits defined, offsets against region bounds, fd counts against what the
 * command takes. A failure is an error reply carrying the errno; fds the command does not keep
 * are closed here, so nothing leaks whatever a client sends.
 */
import { VfioProtocolError, VfioSystemError, errnoValue } from "../api/errors.js";
import type { DmaFaultError } from "../api/hosting.js";
import {
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
} from "../api/constants.js";
import { VFIO_USER_F_NO_REPLY, VFIO_USER_F_TYPE_COMMAND, VFIO_USER_F_TYPE_MASK } from "../abi/vfio-user/header.js";
import { VfioUserCommand } from "../abi/vfio-user/command.js";
import { encodeCapChain, encodeRegionCap } from "../abi/cap-chain.js";
import {
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
  VFIO_USER_F_DMA_REGION_FILE_IO, VFIO_USER_F_DMA_REGION_MMAP, VFIO_USER_F_DMA_REGION_READ, VFIO_USER_F_DMA_REGION_WRITE,
  VFIO_USER_MULTI_DATA, VFIO_USER_MULTI_MAX,
  deviceFeatureLayout, deviceInfoLayout, dmaLoggingControlLayout, dmaLoggingRangeLayout, dmaLoggingReportLayout, dmaMapLayout,
  dmaUnmapLayout, irqInfoLayout, irqSetLayout, regionAccessLayout, regionInfoLayout, regionIoFdsLayout, writeMultiEntryLayout,
  writeMultiLayout,
} from "../abi/vfio-user/messages.js";
import { encodeErrorReply, encodeReply, type Message } from "./protocol/message.js";
import { VFIO_USER_MAJOR, VFIO_USER_MINOR, encodeVersion, parseVersion, type Capabilities } from "./protocol/version.js";
import type { DmaWindows } from "./dma-windows.js";
import { REGION_OFFSET_SHIFT, type ServedDevice } from "./served-device.js";

/** What the core needs of a connection. */
export interface RequestContext {
  readonly device: ServedDevice;
  readonly dma: DmaWindows;
  /** The client's capabilities once VERSION is done; undefined before. */
  clientCaps: Capabilities | undefined;
  /** What this server advertises. */
  readonly serverCaps: Capabilities;
  /** Whether the transport can pass fds (an fd-less one refuses them). */
  readonly canPassFds: boolean;
  /** Sets up twin-socket mode; returns the fd to send the client, or undefined when unavailable. */
  startTwinSocket(): number | undefined;
  /**
   * Whether `fd` is an eventfd the server can signal without ever blocking. A client could
   * pass a pipe (whose write blocks when full) or a file: signalling those could hang or
   * misbehave, so only eventfds are taken.
   */
  acceptEventfd(fd: number): boolean;
  /** Replaces the eventfds of IRQ `index` vectors [start, start+count); fds null de-assign. Takes ownership. */
  setIrqFds(index: number, start: number, fds: readonly (number | null)[]): void;
  /** The interrupt type enabled (vfio-pci allows one at a time). */
  irqType: "none" | "intx" | "msi" | "msix";
  /** Whether any eventfd is wired to `index`. */
  wired(index: number): boolean;
  /** Disables every vector of `index` (count 0, DATA_NONE|TRIGGER). */
  clearIrqs(index: number): void;
  /** Signals the vectors [start, start+count) of `index` as a trigger would (DATA_NONE/BOOL TRIGGER). */
  triggerIrqs(index: number, start: number, count: number, which: readonly boolean[] | undefined): void;
  closeFd(fd: number): void;
}

/** A reply to send, with the fds that go with it (owned by the caller after sending). */
export interface Reply {
  readonly bytes: Uint8Array;
  readonly fds: readonly number[];
  /** Fds to close once the reply is sent (they were the server's copy of what it sent). */
  readonly closeAfterSend?: readonly number[];
}

/**
 * Thrown by a handler: answer with this errno. Not an Error: refusing a malformed message is
 * the common case under attack or fuzzing, and capturing a stack trace per refusal costs more
 * than handling the message.
 */
class Refuse {
  constructor(readonly errno: number, readonly detail: string) {}
}
const EINVAL = errnoValue("EINVAL");
const refuse = (detail: string, errno = EINVAL): Refuse => new Refuse(errno, detail);

/** Largest reply argsz a client may ask for in an INFO request: refuse nonsense before allocating. */
const MAX_ARGSZ = 64 * 1024;

/**
 * Handles one message from the client. Returns the reply (undefined for NO_REPLY, or for a
 * message that must not be answered), or "close" when the connection must end (a VERSION
 * that cannot be agreed, a command before VERSION).
 */
export function handleRequest(ctx: RequestContext, message: Message): Reply | "close" | undefined {
  const { header } = message;
  const fds = [...message.fds];
  const closeAll = (): void => {
    for (const fd of fds.splice(0)) ctx.closeFd(fd);
  };
  if ((header.flags & VFIO_USER_F_TYPE_MASK) !== VFIO_USER_F_TYPE_COMMAND) {
    closeAll();
    return undefined;
  }
  const noReply = (header.flags & VFIO_USER_F_NO_REPLY) !== 0;
  if (ctx.clientCaps === undefined && header.command !== VfioUserCommand.VERSION) {
    // libvfio-user: the first message must be VERSION, or the connection is dropped.
    closeAll();
    return "close";
  }
  const negotiating = ctx.clientCaps === undefined;
  try {
    const out = dispatch(ctx, message, fds);
    closeAll();
    if (out === "close") return "close";
    if (noReply) {
      // Only the server's own copies die with the unsent reply; other fds (a memory BAR's) stay their owner's.
      for (const fd of out.closeAfterSend ?? []) ctx.closeFd(fd);
      return undefined;
    }
    return out;
  } catch (error) {
    closeAll();
    // A VERSION that cannot be agreed ends the connection (spec §"Version"); a repeated one is an error.
    if (negotiating) return "close";
    if (noReply) return undefined;
    return { bytes: encodeErrorReply(header, errnoOf(error)), fds: [] };
  }
}

function errnoOf(error: unknown): number {
  if (error instanceof Refuse) return error.errno;
  if (error instanceof VfioSystemError) return error.errno;
  if (error instanceof VfioProtocolError) return error.errno;
  if (error instanceof RangeError) return EINVAL;
  if ((error as DmaFaultError | undefined)?.code === "EDMAFAULT") return errnoValue("EFAULT");
  // A model that throws is a bug in the model, not the client's: report EIO, keep serving.
  return errnoValue("EIO");
}

/** Takes the fds out of `fds` (the rest are closed by the caller). */
function takeFds(fds: number[], count: number): number[] {
  return fds.splice(0, count);
}

function noFds(fds: readonly number[], what: string): void {
  if (fds.length > 0) throw refuse(`${what} takes no fds, ${fds.length} sent`);
}

function payloadAtLeast(message: Message, size: number, what: string): void {
  if (message.payload.byteLength < size) throw refuse(`${what}: payload of ${message.payload.byteLength} bytes, ${size} needed`);
}

function dispatch(ctx: RequestContext, message: Message, fds: number[]): Reply | "close" {
  const { header, payload } = message;
  switch (header.command) {
    case VfioUserCommand.VERSION: return version(ctx, message, fds);
    case VfioUserCommand.DMA_MAP: return dmaMap(ctx, message, fds);
    case VfioUserCommand.DMA_UNMAP: {
      noFds(fds, "DMA_UNMAP");
      payloadAtLeast(message, dmaUnmapLayout.size, "DMA_UNMAP");
      const req = dmaUnmapLayout.decode(payload);
      if (req.argsz < dmaUnmapLayout.size) throw refuse(`argsz ${req.argsz} is smaller than the request`);
      if (req.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) throw refuse("the legacy dirty bitmap is not supported (use DMA logging)", errnoValue("ENOTSUP"));
      if (req.flags & ~VFIO_DMA_UNMAP_FLAG_ALL) throw refuse(`unknown flags 0x${req.flags.toString(16)}`);
      if (payload.byteLength !== dmaUnmapLayout.size) throw refuse("DMA_UNMAP carries no data");
      if (req.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
        if (req.address !== 0n || req.size !== 0n) throw refuse("UNMAP_ALL needs address and size 0");
        ctx.dma.removeAll();
      } else {
        ctx.dma.remove(req.address, req.size);
      }
      return { bytes: encodeReply(header, dmaUnmapLayout.encode({ ...req, argsz: dmaUnmapLayout.size })), fds: [] };
    }
    case VfioUserCommand.DEVICE_GET_INFO: {
      noFds(fds, "DEVICE_GET_INFO");
      payloadAtLeast(message, deviceInfoLayout.size, "DEVICE_GET_INFO");
      const req = deviceInfoLayout.decode(payload);
      if (req.argsz < deviceInfoLayout.size) throw refuse(`argsz ${req.argsz} < ${deviceInfoLayout.size}`);
      const info = ctx.device.info();
      return { bytes: encodeReply(header, deviceInfoLayout.encode({ argsz: deviceInfoLayout.size, ...info })), fds: [] };
    }
    case VfioUserCommand.DEVICE_GET_REGION_INFO: return regionInfo(ctx, message, fds);
    case VfioUserCommand.DEVICE_GET_REGION_IO_FDS: {
      noFds(fds, "DEVICE_GET_REGION_IO_FDS");
      payloadAtLeast(message, regionIoFdsLayout.size, "DEVICE_GET_REGION_IO_FDS");
      const req = regionIoFdsLayout.decode(payload);
      if (req.argsz < regionIoFdsLayout.size || req.argsz > MAX_ARGSZ) throw refuse(`argsz ${req.argsz} out of range`);
      if (req.flags !== 0 || req.count !== 0) throw refuse("flags and count must be 0 in a request");
      const region = ctx.device.regions[req.index];
      if (!region || region.size === 0n) throw refuse(`no region ${req.index}`);
      // No model offers ioeventfds: zero sub-regions (libvfio-user answers the same for a
      // region without any).
      return { bytes: encodeReply(header, regionIoFdsLayout.encode({ argsz: regionIoFdsLayout.size, flags: 0, index: req.index, count: 0 })), fds: [] };
    }
    case VfioUserCommand.DEVICE_GET_IRQ_INFO: {
      noFds(fds, "DEVICE_GET_IRQ_INFO");
      payloadAtLeast(message, irqInfoLayout.size, "DEVICE_GET_IRQ_INFO");
      const req = irqInfoLayout.decode(payload);
      if (req.argsz < irqInfoLayout.size) throw refuse(`argsz ${req.argsz} < ${irqInfoLayout.size}`);
      const info = ctx.device.irqInfo(req.index);
      if (!info) throw refuse(`no IRQ index ${req.index}`);
      return { bytes: encodeReply(header, irqInfoLayout.encode({ argsz: irqInfoLayout.size, ...info })), fds: [] };
    }
    case VfioUserCommand.DEVICE_SET_IRQS: return setIrqs(ctx, message, fds);
    case VfioUserCommand.REGION_READ: {
      noFds(fds, "REGION_READ");
      payloadAtLeast(message, regionAccessLayout.size, "REGION_READ");
      if (payload.byteLength !== regionAccessLayout.size) throw refuse("REGION_READ carries no data");
      const req = regionAccessLayout.decode(payload);
      checkAccess(ctx, req.region, req.offset, req.count);
      const data = req.count === 0 ? new Uint8Array(0) : ctx.device.read(req.region, req.offset, req.count);
      return { bytes: encodeReply(header, payload, data), fds: [] };
    }
    case VfioUserCommand.REGION_WRITE: {
      noFds(fds, "REGION_WRITE");
      payloadAtLeast(message, regionAccessLayout.size, "REGION_WRITE");
      const req = regionAccessLayout.decode(payload);
      if (payload.byteLength !== regionAccessLayout.size + req.count) throw refuse(`count ${req.count} does not match the ${payload.byteLength - regionAccessLayout.size} data bytes`);
      checkAccess(ctx, req.region, req.offset, req.count);
      if (req.count > 0) ctx.device.write(req.region, req.offset, payload.subarray(regionAccessLayout.size));
      return { bytes: encodeReply(header, payload.subarray(0, regionAccessLayout.size)), fds: [] };
    }
    case VfioUserCommand.DEVICE_RESET: {
      noFds(fds, "DEVICE_RESET");
      if (payload.byteLength !== 0) throw refuse("DEVICE_RESET carries no payload");
      ctx.device.reset();
      return { bytes: encodeReply(header), fds: [] };
    }
    case VfioUserCommand.REGION_WRITE_MULTI: {
      noFds(fds, "REGION_WRITE_MULTI");
      if (!ctx.serverCaps.writeMultiple) throw refuse("write_multiple was not advertised");
      payloadAtLeast(message, writeMultiLayout.size, "REGION_WRITE_MULTI");
      const { wrCnt } = writeMultiLayout.decode(payload);
      if (wrCnt === 0n || wrCnt > BigInt(VFIO_USER_MULTI_MAX)) throw refuse(`wr_cnt ${wrCnt} is outside [1, ${VFIO_USER_MULTI_MAX}]`);
      const count = Number(wrCnt);
      if (payload.byteLength !== writeMultiLayout.size + count * writeMultiEntryLayout.size) throw refuse("wr_cnt does not match the message size");
      const entries = [];
      for (let i = 0; i < count; i++) {
        const e = writeMultiEntryLayout.decode(payload, writeMultiLayout.size + i * writeMultiEntryLayout.size);
        if (e.count === 0 || e.count > VFIO_USER_MULTI_DATA) throw refuse(`entry ${i}: count ${e.count} is outside [1, 8]`);
        checkAccess(ctx, e.region, e.offset, e.count);
        entries.push(e);
      }
      // All entries are checked before any is applied, so a bad one changes nothing.
      for (const e of entries) ctx.device.write(e.region, e.offset, e.data.subarray(0, e.count));
      return { bytes: encodeReply(header, writeMultiLayout.encode({ wrCnt })), fds: [] };
    }
    case VfioUserCommand.DEVICE_FEATURE: return deviceFeature(ctx, message, fds);
    default:
      // DMA_READ/DMA_WRITE go server → client; MIG_DATA_* need migration, which no model has.
      throw refuse(`command ${header.command} is not served`);
  }
}

function version(ctx: RequestContext, message: Message, fds: number[]): Reply | "close" {
  if (ctx.clientCaps !== undefined) throw refuse("VERSION was already negotiated");
  // libvfio-user refuses fds on VERSION.
  if (fds.length > 0) return "close";
  const client = parseVersion(message.payload);
  if (client.major !== VFIO_USER_MAJOR) return "close";
  const minor = Math.min(client.minor, VFIO_USER_MINOR);
  ctx.clientCaps = client.capabilities;
  const ours = ctx.serverCaps;
  const replyFds: number[] = [];
  let twin: Capabilities["twinSocket"];
  // The reply's capabilities are a subset of the client's (spec §"Version"): twin-socket only
  // when offered, write_multiple only as advertised here.
  if (client.capabilities.twinSocket?.supported) {
    const fd = ctx.canPassFds ? ctx.startTwinSocket() : undefined;
    if (fd !== undefined) {
      replyFds.push(fd);
      twin = { supported: true, fdIndex: 0 };
    } else {
      twin = { supported: false };
    }
  }
  const payload = encodeVersion(VFIO_USER_MAJOR, minor, {
    maxMsgFds: ctx.canPassFds ? ours.maxMsgFds : 0,
    maxDataXferSize: ours.maxDataXferSize,
    maxDmaMaps: ours.maxDmaMaps,
    pgsizes: ours.pgsizes,
    ...(twin ? { twinSocket: twin } : {}),
    ...(ours.writeMultiple ? { writeMultiple: true } : {}),
  });
  return { bytes: encodeReply(message.header, payload), fds: replyFds, closeAfterSend: replyFds };
}

function dmaMap(ctx: RequestContext, message: Message, fds: number[]): Reply {
  payloadAtLeast(message, dmaMapLayout.size, "DMA_MAP");
  const req = dmaMapLayout.decode(message.payload);
  if (req.argsz < dmaMapLayout.size) throw refuse(`argsz ${req.argsz} < ${dmaMapLayout.size}`);
  if (message.payload.byteLength !== dmaMapLayout.size) throw refuse("DMA_MAP carries no data");
  if (fds.length > 1) throw refuse(`DMA_MAP takes at most one fd, ${fds.length} sent`);
  let flags = req.flags;
  const read = (flags & VFIO_USER_F_DMA_REGION_READ) !== 0;
  const write = (flags & VFIO_USER_F_DMA_REGION_WRITE) !== 0;
  flags &= ~(VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE | VFIO_USER_F_DMA_REGION_MMAP);
  if (flags & VFIO_USER_F_DMA_REGION_FILE_IO) throw refuse("FILE_IO DMA is not supported", errnoValue("ENOTSUP"));
  if (flags !== 0) throw refuse(`unknown flags 0x${req.flags.toString(16)}`);
  if (!read && !write) throw refuse("a window must be readable or writable");
  if (fds.length === 0 && req.offset !== 0n) throw refuse("offset without an fd");
  const fd = takeFds(fds, 1)[0];
  ctx.dma.add(req.address, req.size, read, write, fd, req.offset);
  return { bytes: encodeReply(message.header), fds: [] };
}

function regionInfo(ctx: RequestContext, message: Message, fds: number[]): Reply {
  noFds(fds, "DEVICE_GET_REGION_INFO");
  payloadAtLeast(message, regionInfoLayout.size, "DEVICE_GET_REGION_INFO");
  const req = regionInfoLayout.decode(message.payload);
  if (req.argsz < regionInfoLayout.size || req.argsz > MAX_ARGSZ) throw refuse(`argsz ${req.argsz} out of range`);
  const region = ctx.device.regions[req.index];
  // VGA exists only on VGA devices and vfio-pci answers EINVAL for it on others; libvfio-user
  // answers size 0, and its sample client fails on an error here, so answer as it does.
  if (!region) throw refuse(`no region ${req.index}`);
  // A memory BAR is its own memfd, mapped from offset 0, described as libvfio-user describes
  // an mmap-able region: a sparse-mmap capability (here one area, the whole BAR) and exactly
  // one fd. The fd goes only with a reply large enough for the capabilities: a shorter argsz
  // gets the size needed, flags without CAPS, and no fd, which is what libvfio-user's sample
  // client relies on (its first, 32-byte request accepts no fds and fails with EFAULT on one).
  // A register region has no fd: its offset is index << 40, as vfio-pci lays regions out.
  const mappable = region.fd !== undefined && ctx.canPassFds;
  const caps = mappable
    ? encodeCapChain([encodeRegionCap({ id: 1, kind: "sparse-mmap", version: 1, areas: [{ offset: 0n, size: region.size }] })], regionInfoLayout.size)
    : new Uint8Array(0);
  const needed = regionInfoLayout.size + caps.byteLength;
  const full = req.argsz >= needed;
  const reply = regionInfoLayout.encode({
    argsz: needed,
    flags: (mappable ? region.flags | (caps.byteLength > 0 && full ? VFIO_REGION_INFO_FLAG_CAPS : 0) : region.flags & ~VFIO_REGION_INFO_FLAG_MMAP) & ~(full ? 0 : VFIO_REGION_INFO_FLAG_CAPS),
    index: req.index,
    capOffset: mappable && full ? regionInfoLayout.size : 0,
    size: region.size,
    offset: region.fd !== undefined ? 0n : BigInt(req.index) << REGION_OFFSET_SHIFT,
  });
  // The fd stays the device's: sendmsg gives the client its own copy.
  return { bytes: full ? encodeReply(message.header, reply, caps) : encodeReply(message.header, reply), fds: mappable && full ? [region.fd!] : [] };
}

/** Region bounds, count limit (max_data_xfer_size) and overflow. */
function checkAccess(ctx: RequestContext, index: number, offset: bigint, count: number): void {
  const region = ctx.device.regions[index];
  if (!region || region.size === 0n) throw refuse(`no region ${index}`);
  if (count > ctx.serverCaps.maxDataXferSize) throw refuse(`count ${count} exceeds max_data_xfer_size ${ctx.serverCaps.maxDataXferSize}`);
  if (offset > region.size || BigInt(count) > region.size - offset) throw refuse(`${count} bytes at ${offset} leave region ${index} of ${region.size} bytes`);
}

/**
 * DEVICE_SET_IRQS, validated as vfio-pci validates VFIO_DEVICE_SET_IRQS (Linux 6.1
 * vfio_set_irqs_validate_and_prepare, vfio_pci_set_irqs_ioctl and vfio_pci_intrs.c): EINVAL
 * for a bad index, range or data type, ENOTTY for an action the index does not have, and one
 * interrupt type at a time (none, INTx, MSI). The fds follow libvfio-user: as many as count,
 * or none to de-assign.
 */
function setIrqs(ctx: RequestContext, message: Message, fds: number[]): Reply {
  payloadAtLeast(message, irqSetLayout.size, "DEVICE_SET_IRQS");
  const req = irqSetLayout.decode(message.payload);
  const data = message.payload.subarray(irqSetLayout.size);
  if (req.argsz !== message.payload.byteLength) throw refuse(`argsz ${req.argsz} is not the ${message.payload.byteLength}-byte request`);
  if (req.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) throw refuse(`unknown flags 0x${req.flags.toString(16)}`);
  const info = ctx.device.irqInfo(req.index);
  if (!info) throw refuse(`no IRQ index ${req.index}`);
  const max = info.count;
  if (req.start >= max || req.count > max - req.start) throw refuse(`vectors [${req.start}, ${req.start + req.count}) outside the ${max} of index ${req.index}`);
  const dataType = req.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
  if (dataType !== VFIO_IRQ_SET_DATA_NONE && dataType !== VFIO_IRQ_SET_DATA_BOOL && dataType !== VFIO_IRQ_SET_DATA_EVENTFD) throw refuse("exactly one DATA_ flag");
  let bools: boolean[] = [];
  if (dataType === VFIO_IRQ_SET_DATA_BOOL) {
    if (data.byteLength !== req.count) throw refuse(`DATA_BOOL needs ${req.count} bytes, ${data.byteLength} sent`);
    bools = [...data].map((b) => b !== 0);
  } else if (data.byteLength !== 0) {
    throw refuse("only DATA_BOOL carries data in the message");
  }
  if (dataType !== VFIO_IRQ_SET_DATA_EVENTFD) noFds(fds, "DEVICE_SET_IRQS without DATA_EVENTFD");
  let eventfds: (number | null)[] = [];
  if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
    if (fds.length !== 0 && fds.length !== req.count) throw refuse(`${fds.length} fds for ${req.count} vectors`);
    for (const fd of fds) if (!ctx.acceptEventfd(fd)) throw refuse(`fd ${fd} is not an eventfd`);
  }
  const action = req.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
  const take = (): (number | null)[] => (fds.length === 0 ? new Array<null>(req.count).fill(null) : takeFds(fds, fds.length));
  const one = dataType === VFIO_IRQ_SET_DATA_NONE || (dataType === VFIO_IRQ_SET_DATA_BOOL && bools[0] === true);
  const ok = (): Reply => ({ bytes: encodeReply(message.header), fds: [] });
  switch (req.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
        if (ctx.irqType === "intx" && req.count === 0 && dataType === VFIO_IRQ_SET_DATA_NONE) {
          ctx.clearIrqs(req.index);
          ctx.irqType = "none";
          return ok();
        }
        if (!(ctx.irqType === "intx" || ctx.irqType === "none") || req.start !== 0 || req.count !== 1) throw refuse("another interrupt type is enabled, or not one vector");
        if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
          eventfds = take();
          ctx.irqType = "intx";
          ctx.setIrqFds(req.index, 0, eventfds);
          return ok();
        }
        if (ctx.irqType !== "intx") throw refuse("INTx is not enabled");
        if (one) ctx.triggerIrqs(req.index, 0, 1, undefined);
        return ok();
      }
      if (action === VFIO_IRQ_SET_ACTION_MASK || action === VFIO_IRQ_SET_ACTION_UNMASK) {
        if (ctx.irqType !== "intx" || req.start !== 0 || req.count !== 1) throw refuse("INTx is not enabled");
        if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
          // Mask by eventfd does not exist in Linux; unmask by eventfd (virqfd) is accepted, not modelled.
          if (action === VFIO_IRQ_SET_ACTION_MASK) throw refuse("mask by eventfd", errnoValue("ENOTTY"));
          for (const fd of take()) if (fd !== null) ctx.closeFd(fd);
          return ok();
        }
        if (one) ctx.device.setIntxMasked(action === VFIO_IRQ_SET_ACTION_MASK);
        return ok();
      }
      break;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX: {
      if (action !== VFIO_IRQ_SET_ACTION_TRIGGER) break; // "XXX Need masking support exported"
      const type = req.index === VFIO_PCI_MSI_IRQ_INDEX ? "msi" : "msix";
      if (ctx.irqType === type && req.count === 0 && dataType === VFIO_IRQ_SET_DATA_NONE) {
        ctx.clearIrqs(req.index);
        ctx.irqType = "none";
        return ok();
      }
      if (!(ctx.irqType === type || ctx.irqType === "none")) throw refuse(`another interrupt type (${ctx.irqType}) is enabled`);
      if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
        // vfio_msi_enable(start + count) then the range check: no vectors is EINVAL.
        if (req.count === 0) throw refuse("DATA_EVENTFD needs at least one vector");
        eventfds = take();
        ctx.irqType = type;
        ctx.setIrqFds(req.index, req.start, eventfds);
        return ok();
      }
      if (ctx.irqType !== type) throw refuse("MSI is not enabled");
      ctx.triggerIrqs(req.index, req.start, req.count, dataType === VFIO_IRQ_SET_DATA_BOOL ? bools : undefined);
      return ok();
    }
    case VFIO_PCI_REQ_IRQ_INDEX:
      if (action !== VFIO_IRQ_SET_ACTION_TRIGGER) break;
      // vfio_pci_set_ctx_trigger_single.
      if (req.start !== 0 || req.count > 1) throw refuse("REQ has one vector");
      if (dataType === VFIO_IRQ_SET_DATA_EVENTFD) {
        if (req.count === 0) throw refuse("DATA_EVENTFD needs count 1");
        ctx.setIrqFds(req.index, 0, take());
        return ok();
      }
      if (dataType === VFIO_IRQ_SET_DATA_BOOL && req.count === 0) throw refuse("DATA_BOOL needs count 1");
      if (!ctx.wired(req.index)) {
        if (dataType === VFIO_IRQ_SET_DATA_NONE) throw refuse("no trigger to signal");
        return ok();
      }
      if (dataType === VFIO_IRQ_SET_DATA_NONE && req.count === 0) ctx.clearIrqs(req.index);
      else if (one) ctx.triggerIrqs(req.index, 0, 1, undefined);
      return ok();
  }
  throw refuse(`action 0x${action.toString(16)} is not supported on index ${req.index}`, errnoValue("ENOTTY"));
}

function popcount(v: number): number {
  let n = 0;
  for (; v; v &= v - 1) n++;
  return n;
}

function deviceFeature(ctx: RequestContext, message: Message, fds: number[]): Reply {
  noFds(fds, "DEVICE_FEATURE");
  payloadAtLeast(message, deviceFeatureLayout.size, "DEVICE_FEATURE");
  const { payload, header } = message;
  const req = deviceFeatureLayout.decode(payload);
  if (req.argsz < deviceFeatureLayout.size || req.argsz > MAX_ARGSZ) throw refuse(`argsz ${req.argsz} out of range`);
  const feature = req.flags & VFIO_DEVICE_FEATURE_MASK;
  const get = (req.flags & VFIO_DEVICE_FEATURE_GET) !== 0;
  const set = (req.flags & VFIO_DEVICE_FEATURE_SET) !== 0;
  const probe = (req.flags & VFIO_DEVICE_FEATURE_PROBE) !== 0;
  if (req.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE)) throw refuse("unknown flags");
  // vfio_check_feature: GET and SET together are EINVAL; a feature supports one of them.
  if (get && set) throw refuse("GET and SET together");
  const data = payload.subarray(deviceFeatureLayout.size);
  const supportsGet = feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
  const supportsSet = feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_START || feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
  // Migration features (1, 2) need a migratable model; none is.
  if (!supportsGet && !supportsSet) throw refuse(`feature ${feature} is not supported`, errnoValue("ENOTTY"));
  if ((get && !supportsGet) || (set && !supportsSet) || (!get && !set && !probe)) throw refuse(`feature ${feature} does not support that operation`);
  if (probe) return { bytes: encodeReply(header, payload), fds: [] };
  switch (feature) {
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START: {
      if (data.byteLength < dmaLoggingControlLayout.size) throw refuse("DMA_LOGGING_START data is short");
      const control = dmaLoggingControlLayout.decode(data);
      if (control.pageSize === 0n || (control.pageSize & (control.pageSize - 1n)) !== 0n || control.pageSize < 4096n) throw refuse("page_size must be a power of two ≥ 4096");
      if (control.numRanges > 1024 || data.byteLength !== dmaLoggingControlLayout.size + control.numRanges * dmaLoggingRangeLayout.size) throw refuse("num_ranges does not match the data");
      if (ctx.dma.logging) throw refuse("logging already started", errnoValue("EBUSY"));
      const ranges = [];
      for (let i = 0; i < control.numRanges; i++) {
        const r = dmaLoggingRangeLayout.decode(data, dmaLoggingControlLayout.size + i * dmaLoggingRangeLayout.size);
        if (r.length === 0n || r.iova + r.length > 1n << 64n) throw refuse(`range ${i} is empty or wraps`);
        ranges.push(r);
      }
      ctx.dma.startLogging(control.pageSize, ranges);
      return { bytes: encodeReply(header, payload), fds: [] };
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      if (!ctx.dma.logging) throw refuse("logging is not running");
      ctx.dma.stopLogging();
      return { bytes: encodeReply(header, payload), fds: [] };
    default: {
      if (!ctx.dma.logging) throw refuse("logging is not running");
      if (data.byteLength !== dmaLoggingReportLayout.size) throw refuse("DMA_LOGGING_REPORT data is the wrong size");
      const r = dmaLoggingReportLayout.decode(data);
      // vfio_ioctl_device_feature_logging_report (drivers/vfio/vfio_main.c): page_size < 4 KiB
      // or not a power of two is EINVAL.
      if (r.pageSize < 4096n || (r.pageSize & (r.pageSize - 1n)) !== 0n) throw refuse("page_size must be a power of two ≥ 4096");
      if (r.length === 0n || r.iova + r.length > 1n << 64n) throw refuse("empty or wrapping range");
      const pages = (r.length + r.pageSize - 1n) / r.pageSize;
      const bitmapBytes = ((pages + 63n) / 64n) * 8n;
      const need = BigInt(deviceFeatureLayout.size + dmaLoggingReportLayout.size) + bitmapBytes;
      if (need > BigInt(MAX_ARGSZ * 16)) throw refuse("bitmap too large", errnoValue("E2BIG"));
      if (BigInt(req.argsz) < need) throw refuse(`argsz ${req.argsz} < ${need}`, errnoValue("ENOSPC"));
      const bitmap = ctx.dma.report(r.iova, r.length, r.pageSize);
      const head = deviceFeatureLayout.encode({ argsz: Number(need), flags: req.flags });
      return { bytes: encodeReply(header, head, data, bitmap), fds: [] };
    }
  }
}
