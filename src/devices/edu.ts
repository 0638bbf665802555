/**
 * QEMU's educational PCI device ("edu"), as QEMU 7.2 implements it (hw/misc/edu.c) and
 * documents it (docs/specs/edu.rst): 1234:11e8, revision 0x10, class 0x00ff, BAR0 1 MiB of
 * MMIO, one MSI vector (64-bit, not maskable) or INTA#, a factorial unit and a DMA engine with
 * a 4 KiB buffer at device address 0x40000 and a 28-bit DMA mask.
 *
 * The kernel helper runs the same drivers against QEMU's real edu inside a guest, so where
 * QEMU's behaviour is odd this model keeps it and says so (the DMA range check's off-by-one,
 * address clamping, a blocked DMA read filling the buffer with zeros). Where QEMU has no
 * behaviour to copy (it aborts the whole VM), the model says what it does instead.
 * test/devices/edu.qemu.test.ts (opt-in) runs one register script on this model and on
 * Debian's QEMU 7.2 edu through qtest and requires identical transcripts.
 */
import type { AccessSize, BarSpec, DeviceHost, DeviceModel, DmaFaultReason, PciIdentity } from "../api/hosting.js";
import { DmaFaultError } from "../api/hosting.js";

/** BAR0 register offsets (docs/specs/edu.rst "MMIO area spec"). */
export const EduRegister = {
  /** RO 0xRRrr00ed: major RR, minor rr. */
  id: 0x00,
  /** RW: reads back the bitwise inverse of what was written. */
  liveness: 0x04,
  /** RW: write n, read n! once Status bit 0 clears. */
  factorial: 0x08,
  /** RW: bit 0 computing (RO), bit 7 raise interrupt 0x1 when the factorial is done. */
  status: 0x20,
  /** RO: the bits that raised the interrupt. */
  irqStatus: 0x24,
  /** WO: ORs the value into the interrupt status and raises the interrupt. */
  irqRaise: 0x60,
  /** WO: clears the value's bits from the interrupt status; the line drops at zero. */
  irqAck: 0x64,
  dmaSource: 0x80,
  dmaDestination: 0x88,
  dmaCount: 0x90,
  /** RW: bit 0 start (reads 1 while running), bit 1 direction (1: to RAM), bit 2 interrupt 0x100 when done. */
  dmaCommand: 0x98,
} as const;

/** Identification register value of QEMU's edu: version 1.0. */
export const EDU_ID = 0x010000ed;
export const EDU_STATUS_COMPUTING = 0x01;
export const EDU_STATUS_IRQFACT = 0x80;
export const EDU_DMA_RUN = 0x1;
/** Direction bit of the DMA command: 0 from RAM to the device buffer, 1 from the buffer to RAM. */
export const EDU_DMA_TO_RAM = 0x2;
export const EDU_DMA_IRQ = 0x4;
/** Interrupt status bits the device itself raises. */
export const EDU_FACT_IRQ = 0x00000001;
export const EDU_DMA_DONE_IRQ = 0x00000100;
/** The DMA buffer, at this device address, of this size (edu.c DMA_START, DMA_SIZE). */
export const EDU_DMA_BUFFER_ADDRESS = 0x40000n;
export const EDU_DMA_BUFFER_SIZE = 4096;
/** The default dma_mask property: 28 bits (256 MiB). */
export const EDU_DMA_MASK = (1n << 28n) - 1n;

/** QEMU's PCI identity of edu (edu_class_init; subsystem from pci.c's default 1af4:1100). */
export const eduIdentity: PciIdentity = {
  vendorId: 0x1234,
  deviceId: 0x11e8,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x1100,
  // PCI_CLASS_OTHERS (0xff) is QEMU's 16-bit class id 0x00ff: base class 0x00, sub-class 0xff.
  classCode: 0x00ff00,
  revision: 0x10,
};

/** What the model noticed that a QEMU user would see in QEMU's log (or as a dead VM). */
export type EduGuestError =
  /** The DMA range left the 4 KiB buffer: QEMU 7.2 calls hw_error() and the VM stops; this model halts the device. */
  | { readonly kind: "dma-out-of-range"; readonly start: bigint; readonly count: bigint }
  /** A RAM address above the DMA mask was truncated to it (QEMU prints "clamping DMA") and used. */
  | { readonly kind: "dma-address-clamped"; readonly address: bigint; readonly clamped: bigint }
  /** The host refused part of a DMA (IOMMU fault, no mapping, bus mastering off). QEMU ignores it too. */
  | { readonly kind: "dma-blocked"; readonly access: "read" | "write"; readonly address: bigint; readonly length: number; readonly reason: DmaFaultReason | "host-error" };

export interface EduOptions {
  /** QEMU's `dma_mask` property. Default 28 bits. */
  readonly dmaMask?: bigint;
  /**
   * Milliseconds from starting a DMA to running it. QEMU arms a 100 ms timer on the virtual
   * clock; in a test that would be 100 ms of real time per transfer, so the default is 0: the
   * transfer runs on the next turn of the event loop (setImmediate), never within the write
   * that starts it, so "busy until done" (bit 0 of 0x98) stays observable.
   */
  readonly dmaDelayMs?: number;
}

const ALL_ONES = 0xffff_ffff_ffff_ffffn;
/** DMA goes through the IOMMU a page at a time, as QEMU's address_space_rw translates it (VT-d 4 KiB pages). */
const IOMMU_PAGE = 4096n;
const GUEST_ERROR_LOG = 64;

function sizeMask(size: AccessSize): bigint {
  return size === 8 ? ALL_ONES : (1n << BigInt(size * 8)) - 1n;
}

/** n! modulo 2^32, as edu's worker computes it in a uint32_t. From 34 on, 2^32 divides n!. */
export function eduFactorial(n: number): number {
  if (n >= 34) return 0;
  let r = 1;
  for (let v = n; v > 0; v--) r = Math.imul(r, v) >>> 0;
  return r;
}

/**
 * QEMU 7.2's edu_check_range: [start, start+count) must lie in the buffer with the END also
 * strictly inside it, so a transfer that reaches the buffer's last byte is refused (an
 * off-by-one QEMU fixed upstream in 2024; Debian's 7.2 is what the guest tests run). count 0 is refused too.
 */
export function eduRangeOk(start: bigint, count: bigint): boolean {
  const end1 = BigInt.asUintN(64, start + count);
  const begin = EDU_DMA_BUFFER_ADDRESS;
  const end2 = begin + BigInt(EDU_DMA_BUFFER_SIZE);
  const within = (a: bigint): boolean => begin <= a && a < end2;
  return within(start) && end1 > start && within(end1);
}

/**
 * The edu device model.
 *
 * @example
 * const edu = new EduDevice();
 * edu.attach(host);
 * edu.barWrite(0, 0x04n, 4, 0x12345678n);
 * edu.barRead(0, 0x04n, 4); // 0xedcba987n
 */
export class EduDevice implements DeviceModel {
  readonly name = "edu";
  readonly identity = eduIdentity;
  readonly bars: readonly (BarSpec | undefined)[] = [{ size: 1n << 20n, kind: "memory32", prefetchable: false }];
  /** msi_init(pdev, 0, 1, true, false): one vector, 64-bit, no per-vector mask. */
  readonly msiVectors = 1;
  /** pci_config_set_interrupt_pin(pci_conf, 1): INTA#. */
  readonly intxPin = 1;
  readonly dmaMask: bigint;
  readonly dmaDelayMs: number;

  private host: DeviceHost | undefined;
  private liveness = 0;
  private fact = 0;
  private statusBits = 0;
  private irqStatusBits = 0;
  private dma = { src: 0n, dst: 0n, cnt: 0n, cmd: 0n };
  private readonly buffer = new Uint8Array(EDU_DMA_BUFFER_SIZE);
  private timer: { cancel(): void } | undefined;
  /** Bumped by reset(): work started before it completes into nothing. */
  private generation = 0;
  private haltedBy: EduGuestError | undefined;
  private readonly errors: EduGuestError[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private busyDma = false;

  constructor(options: EduOptions = {}) {
    this.dmaMask = options.dmaMask ?? EDU_DMA_MASK;
    this.dmaDelayMs = options.dmaDelayMs ?? 0;
  }

  attach(host: DeviceHost): void {
    this.host = host;
  }

  /** The guest errors seen since power-on or reset (the most recent 64). */
  get guestErrors(): readonly EduGuestError[] {
    return this.errors;
  }

  /**
   * Set when a DMA left the buffer. QEMU 7.2 stops the whole VM there (hw_error); a model
   * cannot stop its host, so the device stops instead: MMIO reads return all-ones (as from a
   * device that is gone) and writes are dropped, until reset().
   */
  get halted(): EduGuestError | undefined {
    return this.haltedBy;
  }

  /** A copy of the device's DMA buffer (not reachable through BAR0 on the real device: for tests and demos). */
  dmaBuffer(): Uint8Array {
    return this.buffer.slice();
  }

  /** Resolves when no factorial or DMA is in progress (for tests and hosts that shut down cleanly). */
  whenIdle(): Promise<void> {
    // A halted device will never finish its transfer: nothing to wait for.
    if (!this.busy() || this.haltedBy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private busy(): boolean {
    return (this.statusBits & EDU_STATUS_COMPUTING) !== 0 || (this.dma.cmd & BigInt(EDU_DMA_RUN)) !== 0n || this.busyDma;
  }

  private settle(): void {
    if (this.busy()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private log(error: EduGuestError): void {
    this.errors.push(error);
    if (this.errors.length > GUEST_ERROR_LOG) this.errors.shift();
  }

  /** edu_raise_irq: OR into the status; signal while any bit is set (again on every raise, as QEMU). */
  private raise(value: number): void {
    this.irqStatusBits = (this.irqStatusBits | value) >>> 0;
    if (this.irqStatusBits !== 0) this.host?.raiseIrq(0);
  }

  /** edu_lower_irq: clear bits; INTx drops when none is left (the host ignores it under MSI). */
  private lower(value: number): void {
    this.irqStatusBits = (this.irqStatusBits & ~value) >>> 0;
    if (this.irqStatusBits === 0) this.host?.lowerIrq(0);
  }

  barRead(bar: number, offset: bigint, size: AccessSize): bigint {
    const mask = sizeMask(size);
    if (bar !== 0) return mask;
    if (this.haltedBy) return mask;
    // edu_mmio_ops.valid: 4 or 8 bytes, aligned. QEMU's memory core refuses anything else
    // before edu sees it and the read returns 0 (unassigned_mem_read).
    if ((size !== 4 && size !== 8) || offset % BigInt(size) !== 0n) return 0n;
    // edu_mmio_read: below 0x80 only 4-byte reads; unknown offsets read all-ones.
    if (offset < 0x80n && size !== 4) return mask;
    let value = ALL_ONES;
    switch (Number(offset)) {
      case EduRegister.id: value = BigInt(EDU_ID); break;
      case EduRegister.liveness: value = BigInt(this.liveness); break;
      case EduRegister.factorial: value = BigInt(this.fact); break;
      case EduRegister.status: value = BigInt(this.statusBits); break;
      case EduRegister.irqStatus: value = BigInt(this.irqStatusBits); break;
      case EduRegister.dmaSource: value = this.dma.src; break;
      case EduRegister.dmaDestination: value = this.dma.dst; break;
      case EduRegister.dmaCount: value = this.dma.cnt; break;
      case EduRegister.dmaCommand: value = this.dma.cmd; break;
    }
    return value & mask;
  }

  barWrite(bar: number, offset: bigint, size: AccessSize, value: bigint): void {
    if (bar !== 0 || this.haltedBy) return;
    if ((size !== 4 && size !== 8) || offset % BigInt(size) !== 0n) return;
    if (offset < 0x80n && size !== 4) return;
    const v = value & sizeMask(size);
    const v32 = Number(v & 0xffff_ffffn);
    const running = (this.dma.cmd & BigInt(EDU_DMA_RUN)) !== 0n;
    switch (Number(offset)) {
      case EduRegister.liveness:
        this.liveness = ~v32 >>> 0;
        break;
      case EduRegister.factorial:
        if (this.statusBits & EDU_STATUS_COMPUTING) break;
        this.fact = v32;
        this.statusBits |= EDU_STATUS_COMPUTING;
        this.startFactorial();
        break;
      case EduRegister.status:
        this.statusBits = v32 & EDU_STATUS_IRQFACT ? this.statusBits | EDU_STATUS_IRQFACT : this.statusBits & ~EDU_STATUS_IRQFACT;
        break;
      case EduRegister.irqRaise:
        this.raise(v32);
        break;
      case EduRegister.irqAck:
        this.lower(v32);
        break;
      // dma_rw: the DMA registers ignore writes while a transfer runs.
      case EduRegister.dmaSource:
        if (!running) this.dma.src = v;
        break;
      case EduRegister.dmaDestination:
        if (!running) this.dma.dst = v;
        break;
      case EduRegister.dmaCount:
        if (!running) this.dma.cnt = v;
        break;
      case EduRegister.dmaCommand:
        if ((v & BigInt(EDU_DMA_RUN)) === 0n || running) break;
        this.dma.cmd = v;
        this.startDmaTimer();
        break;
    }
  }

  /**
   * QEMU computes in a worker thread and clears the busy bit when done. Here the work is a
   * few multiplications, done on a microtask: never within the write that starts it (so the
   * busy bit is observable right after it), and before any timer, so a driver polling with
   * `await` sees it finish even on a backend whose promises are already settled.
   */
  private startFactorial(): void {
    const generation = this.generation;
    queueMicrotask(() => {
      if (generation !== this.generation) return;
      this.fact = eduFactorial(this.fact);
      this.statusBits &= ~EDU_STATUS_COMPUTING;
      if (this.statusBits & EDU_STATUS_IRQFACT) this.raise(EDU_FACT_IRQ);
      this.settle();
    });
  }

  private startDmaTimer(): void {
    const generation = this.generation;
    const fire = (): void => {
      this.timer = undefined;
      if (generation !== this.generation) return;
      void this.runDma(generation);
    };
    if (this.dmaDelayMs > 0) {
      const handle = setTimeout(fire, this.dmaDelayMs);
      this.timer = { cancel: () => clearTimeout(handle) };
    } else {
      const handle = setImmediate(fire);
      this.timer = { cancel: () => clearImmediate(handle) };
    }
  }

  /** edu_dma_timer. */
  private async runDma(generation: number): Promise<void> {
    if ((this.dma.cmd & BigInt(EDU_DMA_RUN)) === 0n) return;
    const toRam = (this.dma.cmd & BigInt(EDU_DMA_TO_RAM)) !== 0n;
    const count = this.dma.cnt;
    const bufferAddress = toRam ? this.dma.src : this.dma.dst;
    if (!eduRangeOk(bufferAddress, count)) {
      const error: EduGuestError = { kind: "dma-out-of-range", start: bufferAddress, count };
      this.log(error);
      this.haltedBy = error;
      // The transfer never completes: RUN stays set, as in a VM that stopped.
      this.settleHalted();
      return;
    }
    const at = Number(bufferAddress - EDU_DMA_BUFFER_ADDRESS);
    const length = Number(count);
    const ram = this.clamp(toRam ? this.dma.dst : this.dma.src);
    this.busyDma = true;
    try {
      if (toRam) {
        await this.writeRam(ram, this.buffer.slice(at, at + length), generation);
      } else {
        const data = await this.readRam(ram, length, generation);
        if (generation !== this.generation) return;
        this.buffer.set(data, at);
      }
    } finally {
      if (generation === this.generation) this.busyDma = false;
    }
    if (generation !== this.generation) return;
    this.dma.cmd &= ~BigInt(EDU_DMA_RUN);
    if (this.dma.cmd & BigInt(EDU_DMA_IRQ)) this.raise(EDU_DMA_DONE_IRQ);
    this.settle();
  }

  private settleHalted(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** edu_clamp_addr: the RAM address ANDed with the DMA mask, logged when that changed it. */
  private clamp(address: bigint): bigint {
    const clamped = address & this.dmaMask;
    if (clamped !== address) this.log({ kind: "dma-address-clamped", address, clamped });
    return clamped;
  }

  /** Splits [address, address+length) at IOMMU page boundaries. */
  private *pages(address: bigint, length: number): Generator<{ address: bigint; offset: number; length: number }> {
    let offset = 0;
    while (offset < length) {
      const a = address + BigInt(offset);
      const room = Number(IOMMU_PAGE - (a % IOMMU_PAGE));
      const n = Math.min(room, length - offset);
      yield { address: a, offset, length: n };
      offset += n;
    }
  }

  private blocked(access: "read" | "write", address: bigint, length: number, error: unknown): void {
    const reason = error instanceof DmaFaultError ? error.reason : "host-error";
    this.log({ kind: "dma-blocked", access, address, length, reason });
  }

  /**
   * pci_dma_read, page by page. A page the host refuses reads as zeros: QEMU's translation
   * fails to the unassigned region, whose reads return 0, and pci_dma_read's result is ignored.
   */
  private async readRam(address: bigint, length: number, generation: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const host = this.host;
    for (const page of this.pages(address, length)) {
      if (generation !== this.generation) break;
      try {
        if (!host) throw new Error("edu: no host attached");
        const data = await host.dmaRead(page.address, page.length);
        out.set(data.subarray(0, page.length), page.offset);
      } catch (error) {
        this.blocked("read", page.address, page.length, error);
      }
    }
    return out;
  }

  /** pci_dma_write, page by page. A page the host refuses is not written; the rest is. */
  private async writeRam(address: bigint, data: Uint8Array, generation: number): Promise<void> {
    const host = this.host;
    for (const page of this.pages(address, data.length)) {
      if (generation !== this.generation) return;
      try {
        if (!host) throw new Error("edu: no host attached");
        await host.dmaWrite(page.address, data.subarray(page.offset, page.offset + page.length));
      } catch (error) {
        this.blocked("write", page.address, page.length, error);
      }
    }
  }

  /**
   * Back to power-on state: registers and buffer zero, interrupt lowered, a pending factorial
   * or DMA dropped (a host write already in flight is not recalled), the halt cleared.
   * QEMU 7.2's edu has no reset handler, so a real edu keeps its registers across a bus reset;
   * DeviceModel.reset() promises a function-level reset and this model gives one.
   */
  reset(): void {
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
    const hadIrq = this.irqStatusBits !== 0;
    this.liveness = 0;
    this.fact = 0;
    this.statusBits = 0;
    this.irqStatusBits = 0;
    this.dma = { src: 0n, dst: 0n, cnt: 0n, cmd: 0n };
    this.busyDma = false;
    this.buffer.fill(0);
    this.haltedBy = undefined;
    this.errors.length = 0;
    if (hadIrq) this.host?.lowerIrq(0);
    this.settle();
  }
}
