/**
 * A device model as a vfio-user server presents it: VFIO PCI regions (BAR0–5, ROM, config,
 * VGA; vfio.h VFIO_PCI_*_REGION_INDEX) and interrupt indexes (INTx, MSI, MSI-X, ERR, REQ),
 * built from the model's description and its config space (devices/pci). Region accesses go to
 * the model; the model's DMA and interrupts go to whatever the current client provides.
 *
 * The model outlives connections: the spec asks the server to keep device state when a
 * client leaves, so the next client finds the device as the last one left it (VFIO-USER.md §5).
 */
import type { AccessSize, DeviceHost, DeviceModel } from "../api/hosting.js";
import { DmaFaultError } from "../api/hosting.js";
import {
  VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS, VFIO_PCI_REQ_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
} from "../api/constants.js";
import type { DeviceInfo, IrqInfo } from "../api/device-info.js";
import { PciConfigSpace } from "../devices/pci/config-space.js";
import { loadLibc } from "../native/libc.js";
import { allocateMemfd, type MemfdMemory } from "../native/process-memory.js";

/** What the current client offers the device: its DMA windows and interrupt eventfds. */
export interface DeviceBinding {
  dmaRead(address: bigint, length: number): Promise<Uint8Array>;
  dmaWrite(address: bigint, data: Uint8Array): Promise<void>;
  /** Signals vector `vector` of IRQ index `index`; false when nothing is wired there. */
  signal(index: number, vector: number): boolean;
  /** Whether the client wired any eventfd to IRQ index `index`. */
  wired(index: number): boolean;
}

/** One region as the server describes it. */
export interface ServedRegion {
  readonly index: number;
  readonly flags: number;
  readonly size: bigint;
  /** For a memory BAR: the memfd behind it, offered to clients for mmap (owned by the device). */
  readonly fd?: number;
  /** For a memory BAR: the bytes themselves. */
  readonly memory?: Uint8Array;
}

/** Where every region's mmap offset starts: index << 40, as vfio-pci's VFIO_PCI_INDEX_TO_OFFSET. */
export const REGION_OFFSET_SHIFT = 40n;

/** A hosted device model with its config space. */
export class ServedDevice {
  readonly model: DeviceModel;
  readonly config: PciConfigSpace;
  readonly regions: readonly ServedRegion[];
  #binding: DeviceBinding | undefined;
  readonly #memories: MemfdMemory[] = [];
  /** INTx state: the line as the model drives it, and the VFIO mask (AUTOMASKED, vfio_pci_intx.c). */
  #intxAsserted = false;
  #intxMasked = false;

  constructor(model: DeviceModel) {
    this.model = model;
    this.config = new PciConfigSpace(model);
    const regions: ServedRegion[] = [];
    for (let index = 0; index < VFIO_PCI_NUM_REGIONS; index++) {
      regions.push({ index, flags: 0, size: 0n });
    }
    for (const bar of this.config.bars) {
      if (bar.spec.memory) {
        // A memory BAR is a memfd: the client maps the very pages the model reads and writes.
        if (bar.spec.size > 1n << 32n) throw new RangeError(`memory BAR${bar.index} of ${bar.spec.size} bytes is too large to serve`);
        const memory = allocateMemfd(loadLibc(), Number(bar.spec.size), { name: `${model.name}-bar${bar.index}` });
        this.#memories.push(memory);
        regions[bar.index] = {
          index: bar.index,
          flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP,
          size: bar.spec.size,
          fd: memory.fd!,
          memory: memory.bytes,
        };
      } else {
        regions[bar.index] = { index: bar.index, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, size: bar.spec.size };
      }
    }
    regions[VFIO_PCI_CONFIG_REGION_INDEX] = {
      index: VFIO_PCI_CONFIG_REGION_INDEX,
      flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
      size: BigInt(this.config.size),
    };
    this.regions = regions;
    const host: DeviceHost = {
      dmaRead: (address, length) => this.#dma("read", address, () => this.#binding!.dmaRead(address, length)),
      dmaWrite: (address, data) => this.#dma("write", address, () => this.#binding!.dmaWrite(address, data)),
      raiseIrq: (vector) => this.#raise(vector),
      lowerIrq: () => this.#lower(),
      barMemory: (bar) => this.regions[bar]?.memory,
    };
    model.attach(host);
  }

  /** The client now connected (undefined between clients: DMA faults, interrupts are dropped). */
  bind(binding: DeviceBinding | undefined): void {
    this.#binding = binding;
    this.#intxMasked = false;
  }

  info(): DeviceInfo {
    return { flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, numRegions: VFIO_PCI_NUM_REGIONS, numIrqs: VFIO_PCI_NUM_IRQS };
  }

  /** IRQ info as vfio-pci reports it (vfio_pci_core_ioctl VFIO_DEVICE_GET_IRQ_INFO), for a conventional PCI function. */
  irqInfo(index: number): IrqInfo | undefined {
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return { index, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED, count: this.model.intxPin ? 1 : 0 };
      case VFIO_PCI_MSI_IRQ_INDEX:
        return { index, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, count: this.config.msi ? this.config.msi.options.vectors : 0 };
      case VFIO_PCI_MSIX_IRQ_INDEX:
        // The models have no MSI-X capability: no vectors, flags as vfio-pci gives them.
        return { index, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, count: 0 };
      case VFIO_PCI_REQ_IRQ_INDEX:
        return { index, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, count: 1 };
      case VFIO_PCI_ERR_IRQ_INDEX:
        // ERR exists only on PCIe functions. vfio-pci answers EINVAL for a conventional one;
        // libvfio-user answers count 0, and its sample client fails on an error here, so
        // answer as libvfio-user does (VFIO-USER.md: interoperate with the reference).
        return { index, flags: VFIO_IRQ_INFO_EVENTFD, count: 0 };
      default:
        return undefined;
    }
  }

  /** INTx mask (VFIO_IRQ_SET_ACTION_MASK / UNMASK on index 0). Unmasking a still-asserted line fires again. */
  setIntxMasked(masked: boolean): void {
    this.#intxMasked = masked;
    if (!masked && this.#intxAsserted && !this.config.intxDisabled) this.#fireIntx();
  }

  /** Reads `length` bytes at `offset` of a region already checked to hold them. */
  read(index: number, offset: bigint, length: number): Uint8Array {
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) return this.config.readBytes(Number(offset), length);
    const memory = this.regions[index]?.memory;
    if (memory) return memory.slice(Number(offset), Number(offset) + length);
    const out = new Uint8Array(length);
    const view = new DataView(out.buffer);
    for (const piece of accesses(offset, length)) {
      const value = this.model.barRead(index, offset + BigInt(piece.at), piece.size);
      setValue(view, piece.at, piece.size, value);
    }
    return out;
  }

  /** Writes `data` at `offset` of a region already checked to hold them. */
  write(index: number, offset: bigint, data: Uint8Array): void {
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      this.config.writeBytes(Number(offset), data);
      return;
    }
    const memory = this.regions[index]?.memory;
    if (memory) {
      memory.set(data, Number(offset));
      return;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (const piece of accesses(offset, data.byteLength)) {
      this.model.barWrite(index, offset + BigInt(piece.at), piece.size, getValue(view, piece.at, piece.size));
    }
  }

  /** Frees the memory BARs (a client's mappings of them stay valid: they hold the pages). Idempotent. */
  close(): void {
    for (const m of this.#memories.splice(0)) m.free();
  }

  /** DEVICE_RESET: the model and its config space back to power-on (a function-level reset). */
  reset(): void {
    this.model.reset();
    this.config.reset();
    this.#intxAsserted = false;
    this.#intxMasked = false;
  }

  async #dma<T>(access: "read" | "write", address: bigint, run: () => Promise<T>): Promise<T> {
    // A function with Bus Master Enable clear issues no DMA (PCI 3.0 §6.2.2).
    if (!this.config.busMasterEnabled) throw new DmaFaultError(address, access, "bus-master-disabled");
    if (!this.#binding) throw new DmaFaultError(address, access, "not-mapped");
    return run();
  }

  #raise(vector: number): void {
    const binding = this.#binding;
    if (!binding) return;
    // The interrupt mode is what the client set up with SET_IRQS, as vfio-pci programs MSI
    // itself when the user enables it: MSI eventfds set → MSI; else INTx.
    // An MSI is a memory write, so it needs Bus Master Enable like any DMA.
    if (binding.wired(VFIO_PCI_MSI_IRQ_INDEX)) {
      if (this.config.busMasterEnabled) binding.signal(VFIO_PCI_MSI_IRQ_INDEX, vector);
      return;
    }
    this.#intxAsserted = true;
    this.config.setInterruptStatus(true);
    if (!this.config.intxDisabled && !this.#intxMasked) this.#fireIntx();
  }

  #fireIntx(): void {
    // AUTOMASKED: vfio-pci masks INTx when it fires until the user unmasks it (vfio_intx_handler).
    if (this.#binding?.signal(VFIO_PCI_INTX_IRQ_INDEX, 0)) this.#intxMasked = true;
  }

  #lower(): void {
    this.#intxAsserted = false;
    this.config.setInterruptStatus(false);
  }
}

/** Splits [offset, offset+length) into naturally aligned accesses of 8, 4, 2 or 1 bytes. */
function* accesses(offset: bigint, length: number): Generator<{ at: number; size: AccessSize }> {
  let at = 0;
  while (at < length) {
    const address = offset + BigInt(at);
    let size: AccessSize = 8;
    while (size > 1 && (address % BigInt(size) !== 0n || at + size > length)) size = (size / 2) as AccessSize;
    yield { at, size };
    at += size;
  }
}

function setValue(view: DataView, at: number, size: AccessSize, value: bigint): void {
  switch (size) {
    case 1: view.setUint8(at, Number(value & 0xffn)); break;
    case 2: view.setUint16(at, Number(value & 0xffffn), true); break;
    case 4: view.setUint32(at, Number(value & 0xffff_ffffn), true); break;
    case 8: view.setBigUint64(at, BigInt.asUintN(64, value), true); break;
  }
}

function getValue(view: DataView, at: number, size: AccessSize): bigint {
  switch (size) {
    case 1: return BigInt(view.getUint8(at));
    case 2: return BigInt(view.getUint16(at, true));
    case 4: return BigInt(view.getUint32(at, true));
    case 8: return view.getBigUint64(at, true);
  }
}
