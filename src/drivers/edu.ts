/**
 * A userspace driver for QEMU's edu device (docs/specs/edu.rst), written only against api/:
 * it runs unchanged on the Linux VFIO backend (QEMU's real edu in a guest), on the emulated
 * machine, and over vfio-user.
 *
 * Register offsets are the driver's own copy of the spec, as a real driver's header would be;
 * it never looks inside the device model.
 */
import type { DmaBuffer, DmaSpace } from "../api/dma-space.js";
import type { VfioDevice } from "../api/device.js";
import type { EventNotifier } from "../api/event-notifier.js";
import {
  PCI_DEVICE_ID,
  PCI_VENDOR_ID,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
} from "../api/constants.js";
import { VfioError, VfioUsageError } from "../api/errors.js";
import { enableMemoryAndBusMaster, readConfig, setBusMaster } from "../api/pci-config.js";
import { openBar, thenValue, type BarAccess } from "./bar-access.js";
import {
  DMA_BUFFER, DMA_BUFFER_SIZE, DMA_IRQ, DMA_RUN, DMA_TO_RAM, EDU_DEVICE, EDU_DMA_LIMIT, EDU_VENDOR, IRQ_DMA, IRQ_FACT, REG,
  STATUS_COMPUTING, STATUS_IRQ_FACT, checkTransfer, equal, hex4, timeoutError, timeoutOnly,
  type EduCompletion, type EduDriverOptions, type EduIdentity, type EduIommuDemo,
} from "./edu-spec.js";
import { runUndo, type UndoSteps } from "./undo-steps.js";

export { EDU_DMA_LIMIT, EDU_MAX_TRANSFER, type EduCompletion, type EduDriverOptions, type EduIdentity, type EduIommuDemo } from "./edu-spec.js";



const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A driver bound to one edu device. `EduDriver.open()` enables it; `close()` releases what the
 * driver acquired (its interrupt, its notifier, the BAR mapping, its DMA buffer) and turns bus mastering
 * off. The device itself stays open: whoever opened it closes it.
 *
 * @example
 * const edu = await EduDriver.open(device, dmaSpace);
 * await edu.factorial(10); // 3628800
 * await edu.dmaToDevice(Uint8Array.of(1, 2, 3));
 * await edu.dmaFromDevice(3); // Uint8Array [1, 2, 3]
 * await edu.close();
 */
export class EduDriver implements AsyncDisposable {
  readonly identity: EduIdentity;
  /** How completions are awaited: as asked where the device offers that interrupt, else "poll". */
  readonly completion: EduCompletion;
  readonly timeoutMs: number;
  private closed = false;

  private constructor(
    readonly device: VfioDevice,
    private readonly bar: BarAccess,
    private readonly buffer: DmaBuffer,
    private readonly notifier: EventNotifier | undefined,
    /** VFIO_PCI_MSI_IRQ_INDEX or VFIO_PCI_INTX_IRQ_INDEX while an interrupt is routed. */
    private readonly irqIndex: number | undefined,
    identity: EduIdentity,
    timeoutMs: number,
  ) {
    this.identity = identity;
    this.completion = irqIndex === VFIO_PCI_MSI_IRQ_INDEX ? "msi" : irqIndex === VFIO_PCI_INTX_IRQ_INDEX ? "intx" : "poll";
    this.timeoutMs = timeoutMs;
  }

  /**
   * Checks that `device` is an edu, enables memory decoding and bus mastering (config region,
   * PCI_COMMAND), maps BAR0, allocates a page of DMA memory below the 28-bit DMA limit, and
   * routes MSI vector 0 or INTx to a notifier (VFIO_DEVICE_SET_IRQS, ACTION_TRIGGER with an eventfd).
   * Undoes what it did if any step fails.
   */
  static async open(device: VfioDevice, dma: DmaSpace, options: EduDriverOptions = {}): Promise<EduDriver> {
    const vendor = await readConfig(device, PCI_VENDOR_ID, 2);
    const deviceId = await readConfig(device, PCI_DEVICE_ID, 2);
    if (vendor !== EDU_VENDOR || deviceId !== EDU_DEVICE) {
      throw new VfioUsageError(`${device.name} is ${hex4(vendor)}:${hex4(deviceId)}, not an edu (1234:11e8)`, "ENODEV");
    }
    const undo: UndoSteps = [];
    try {
      await enableMemoryAndBusMaster(device);
      undo.push(async () => void (await setBusMaster(device, false)));
      const bar = await openBar(device, 0, options.mmap === undefined ? {} : { mmap: options.mmap });
      undo.push(() => bar.close());
      const id = bar.mapped ? bar.read32(REG.id) : await bar.read32(REG.id);
      if ((id & 0xffff) !== 0x00ed) throw new VfioError(`${device.name}: identification register reads 0x${id.toString(16)}, not 0xRRrr00ed`, "ENODEV");
      const buffer = await dma.allocate(DMA_BUFFER_SIZE, { limit: EDU_DMA_LIMIT });
      undo.push(() => buffer.free());
      let notifier: EventNotifier | undefined;
      let irqIndex: number | undefined;
      const completion = options.completion ?? "msi";
      if (completion !== "poll") {
        const index = completion === "msi" ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX;
        if ((await device.irqInfo(index)).count >= 1) {
          notifier = device.createNotifier();
          const n = notifier;
          undo.push(() => n.close());
          await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 1, notifiers: [n] });
          undo.push(() => disableIrq(device, index));
          irqIndex = index;
          // Interrupt on every factorial: the driver acknowledges each one.
          if (bar.mapped) bar.write32(REG.status, STATUS_IRQ_FACT);
          else await bar.write32(REG.status, STATUS_IRQ_FACT);
        }
      }
      return new EduDriver(device, bar, buffer, notifier, irqIndex, { id, major: id >>> 24, minor: (id >>> 16) & 0xff }, options.timeoutMs ?? 5000);
    } catch (error) {
      await runUndo(undo);
      throw error;
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new VfioUsageError("edu driver is closed", "EBADF");
  }

  /** BAR0 goes through a mapping (true) or region read/write (false). */
  get mapped(): boolean {
    return this.bar.mapped;
  }

  /** The driver's DMA buffer IOVA (one page, below the DMA limit). */
  get bufferIova(): bigint {
    return this.buffer.iova;
  }

  /** Writes `value` to the liveness register and checks it reads back inverted. */
  async checkLiveness(value = 0x12345678): Promise<{ readonly wrote: number; readonly read: number; readonly alive: boolean }> {
    this.ensureOpen();
    const bar = this.bar;
    let read: number;
    if (bar.mapped) {
      bar.write32(REG.liveness, value);
      read = bar.read32(REG.liveness);
    } else {
      await bar.write32(REG.liveness, value);
      read = await bar.read32(REG.liveness);
    }
    return { wrote: value >>> 0, read, alive: read === (~value >>> 0) };
  }

  /** n! modulo 2^32, computed by the device. */
  async factorial(n: number): Promise<number> {
    this.ensureOpen();
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new VfioUsageError(`factorial input must be a 32-bit unsigned integer, not ${n}`, "ERANGE");
    await this.run(
      "factorial",
      IRQ_FACT,
      () => this.bar.write32(REG.factorial, n),
      () => thenValue(this.bar.read32(REG.status), (status) => (status & STATUS_COMPUTING) === 0),
    );
    return this.bar.read32(REG.factorial);
  }

  /**
   * Raises interrupt `bits` through the raise register and waits for it (MSI or INTx), then
   * acknowledges it. Resolves with the interrupt status the device showed.
   */
  async raiseInterrupt(bits = 0x1000): Promise<number> {
    this.ensureOpen();
    if (!this.notifier) throw new VfioUsageError("no interrupt routed: open with completion \"msi\" or \"intx\"", "ENOTSUP");
    const seen = this.waitIrq("raised interrupt");
    const bar = this.bar;
    if (bar.mapped) bar.write32(REG.irqRaise, bits);
    else await bar.write32(REG.irqRaise, bits);
    await seen;
    const status = bar.mapped ? bar.read32(REG.irqStatus) : await bar.read32(REG.irqStatus);
    await this.acknowledge(status);
    return status;
  }

  /** Copies `data` into the device's buffer at `offset` by DMA (memory → device). */
  async dmaToDevice(data: Uint8Array, offset = 0): Promise<void> {
    this.ensureOpen();
    checkTransfer(offset, data.length);
    this.buffer.bytes.set(data, 0);
    await this.transfer(this.buffer.iova, BigInt(DMA_BUFFER + offset), data.length, false);
  }

  /** Reads `length` bytes of the device's buffer at `offset` by DMA (device → memory). */
  async dmaFromDevice(length: number, offset = 0): Promise<Uint8Array> {
    this.ensureOpen();
    checkTransfer(offset, length);
    await this.transfer(BigInt(DMA_BUFFER + offset), this.buffer.iova, length, true);
    return this.buffer.bytes.slice(0, length);
  }

  /**
   * Shows the IOMMU at work. The driver puts a pattern in the device, then asks the device to
   * write it to an IOVA that was never mapped, and to read from that IOVA, with a control
   * transfer to the driver's own mapped buffer. It reports what it can observe: whether its
   * memory changed, and what the device buffer holds. On a machine without an IOMMU in the
   * path the write would land somewhere in memory; with one, the IOMMU faults and drops it.
   *
   * `unmappedIova` defaults to the last page below the 28-bit limit, which the first-fit IOVA
   * allocators of this project never reach for a driver this small; pass another where the
   * DMA space might have mapped it.
   */
  async demonstrateIommu(unmappedIova: bigint = EDU_DMA_LIMIT - 4096n, length = 256): Promise<EduIommuDemo> {
    this.ensureOpen();
    checkTransfer(0, length);
    if (unmappedIova < 0n || unmappedIova + BigInt(length) > EDU_DMA_LIMIT) {
      // Above the 28-bit DMA mask edu truncates the address (edu_clamp_addr): it would not be this IOVA.
      throw new VfioUsageError(`IOVA 0x${unmappedIova.toString(16)} is beyond edu's 28-bit DMA mask`, "ERANGE");
    }
    if (unmappedIova < this.buffer.iova + BigInt(this.buffer.size) && unmappedIova + BigInt(length) > this.buffer.iova) {
      throw new VfioUsageError(`IOVA 0x${unmappedIova.toString(16)} is the driver's own buffer`, "EINVAL");
    }
    const mem = this.buffer.bytes;
    const pattern = Uint8Array.from({ length }, (_, i) => (i * 7 + 1) & 0xff);
    // 1. Pattern into the device; control: it comes back through the mapped IOVA.
    await this.dmaToDevice(pattern);
    mem.fill(0xee, 0, length);
    await this.transfer(BigInt(DMA_BUFFER), this.buffer.iova, length, true);
    const writeToMappedDelivered = equal(mem.subarray(0, length), pattern);

    // 2. Device → unmapped IOVA: watch the driver's memory.
    mem.fill(0xee);
    const before = mem.slice();
    const writeCompleted = await this.transfer(BigInt(DMA_BUFFER), unmappedIova, length, true).then(() => true, timeoutOnly);
    const memoryChanged = !equal(mem, before);

    // 3. Unmapped IOVA → device, with distinctive bytes in the driver's memory; then fetch
    // the device buffer back through the mapped IOVA.
    const bait = Uint8Array.from({ length }, (_, i) => (0xa5 ^ i) & 0xff);
    mem.set(bait, 0);
    const readCompleted = await this.transfer(unmappedIova, BigInt(DMA_BUFFER), length, false).then(() => true, timeoutOnly);
    const after = await this.dmaFromDevice(length);
    const deviceBuffer = after.every((b) => b === 0)
      ? "zeros"
      : equal(after, pattern) ? "unchanged" : equal(after, bait) ? "memory" : "other";
    return {
      mappedIova: this.buffer.iova,
      unmappedIova,
      length,
      writeToMappedDelivered,
      writeToUnmapped: { completed: writeCompleted, memoryChanged },
      readFromUnmapped: { completed: readCompleted, deviceBuffer },
      blocked: writeToMappedDelivered && !memoryChanged && (deviceBuffer === "zeros" || deviceBuffer === "unchanged"),
    };
  }

  /**
   * Programs one DMA. The address and count registers take 4-byte writes: a 4-byte write sets
   * the whole 64-bit register (edu.c dma_rw), every IOVA here is below 2^28, and Linux 6.1's
   * vfio-pci splits an 8-byte pwrite into two 4-byte ones anyway. On a mapped BAR the four
   * writes and every poll are plain stores and loads: no promise per register access.
   */
  private async transfer(src: bigint, dst: bigint, count: number, toRam: boolean): Promise<void> {
    const irq = this.notifier ? DMA_IRQ : 0;
    await this.run(
      "DMA",
      IRQ_DMA,
      () =>
        this.bar.writeAll([
          [REG.dmaSource, Number(src)],
          [REG.dmaDestination, Number(dst)],
          [REG.dmaCount, count],
          [REG.dmaCommand, DMA_RUN | (toRam ? DMA_TO_RAM : 0) | irq],
        ]),
      () => thenValue(this.bar.read32(REG.dmaCommand), (command) => (command & DMA_RUN) === 0),
    );
  }

  /**
   * Starts an operation and waits for it: by interrupt (then acknowledging `irqBit`), or by polling
   * `done`. Either way `done` decides: a stale or shared interrupt only means "look again".
   * `start` and `done` are synchronous on a mapped BAR (void, boolean) and only awaited when
   * they return a promise.
   */
  private async run(
    what: string,
    irqBit: number,
    start: () => void | Promise<void>,
    done: () => boolean | Promise<boolean>,
  ): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    if (this.notifier) {
      let irq = this.waitIrq(what);
      const started = start();
      if (started) await started;
      for (;;) {
        await irq;
        const d = done();
        if (d === true || (d !== false && (await d))) break;
        irq = this.waitIrq(what, deadline - Date.now());
      }
      await this.acknowledge(irqBit);
      return;
    }
    const started = start();
    if (started) await started;
    // Poll: yield to the event loop first (an emulated device completes on its next turn),
    // then back off to a millisecond (QEMU's DMA takes 100 ms of guest time).
    for (let polls = 0; ; polls++) {
      const d = done();
      if (d === true || (d !== false && (await d))) break;
      if (Date.now() > deadline) throw timeoutError(what, this.timeoutMs);
      await (polls < 16 ? yieldToLoop() : sleep(1));
    }
  }

  /**
   * Clears `bits` in the device's interrupt status. With INTx the line then drops (edu lowers
   * it when no bit is left), and only then is the vector unmasked: vfio-pci masked it when it
   * fired (VFIO_IRQ_INFO_AUTOMASKED), and unmasking a line still asserted fires it again.
   */
  private async acknowledge(bits: number): Promise<void> {
    const bar = this.bar;
    if (bar.mapped) bar.write32(REG.irqAck, bits);
    else await bar.write32(REG.irqAck, bits);
    if (this.irqIndex === VFIO_PCI_INTX_IRQ_INDEX) {
      await this.device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1 });
    }
  }

  /** The next interrupt, or ETIMEDOUT. The pending next() is always observed, so a close() later cannot leave an unhandled rejection. */
  private waitIrq(what: string, ms = this.timeoutMs): Promise<void> {
    const notifier = this.notifier!;
    const signal = notifier.next();
    signal.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(what, this.timeoutMs)), Math.max(0, ms));
    });
    return Promise.race([signal.then(() => {}), timeout]).finally(() => clearTimeout(timer));
  }

  /** Releases the interrupt, the notifier, the DMA buffer and the BAR mapping; clears bus mastering. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void> | void): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    if (this.notifier) {
      await attempt(() => this.bar.write32(REG.status, 0));
      await attempt(() => disableIrq(this.device, this.irqIndex!));
      await attempt(() => this.notifier!.close());
    }
    // Stop the device reaching memory before the memory goes away.
    await attempt(async () => void (await setBusMaster(this.device, false)));
    await attempt(() => this.buffer.free());
    await attempt(() => this.bar.close());
    if (errors.length > 0) throw errors[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}


/** VFIO_DEVICE_SET_IRQS with DATA_NONE, ACTION_TRIGGER and count 0: disables the interrupt index. */
async function disableIrq(device: VfioDevice, index: number): Promise<void> {
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 0 });
}
