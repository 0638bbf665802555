/**
 * How the driver learns of completions (NVMe Base Specification 2.0, §3.5.2.1 "Interrupts":
 * a completion queue raises the interrupt vector it was created with, CQ IV):
 *
 * - "msix": one MSI-X vector per queue pair (vector 0 for the admin queue) routed to its own
 *   notifier (VFIO_DEVICE_SET_IRQS, MSI-X index, an eventfd each); a signal polls that queue.
 * - "intx": the pin, one notifier; a signal polls every queue, and only then is INTx unmasked:
 *   vfio-pci masked it when it fired (VFIO_IRQ_INFO_AUTOMASKED), the controller deasserts once
 *   the head doorbells show every entry consumed (§3.5.2.1), and unmasking a line still
 *   asserted fires it again.
 * - "poll": no interrupts; while a command is outstanding the driver polls the phase tags on
 *   every turn of the event loop.
 */
import type { VfioDevice } from "../../api/device.js";
import type { EventNotifier } from "../../api/event-notifier.js";
import {
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
} from "../../api/constants.js";
import type { QueuePair } from "./queue-pair.js";

export type NvmeCompletion = "msix" | "intx" | "poll";

export class CompletionRouting {
  readonly #device: VfioDevice;
  readonly #notifiers: EventNotifier[];
  /** Queues per vector (MSI-X), or every queue under vector 0 (INTx, polling). */
  readonly #queues: QueuePair[][];
  #polling = false;
  #closed = false;

  private constructor(device: VfioDevice, readonly mode: NvmeCompletion, notifiers: EventNotifier[], vectors: number) {
    this.#device = device;
    this.#notifiers = notifiers;
    this.#queues = Array.from({ length: vectors }, () => []);
  }

  /**
   * Routes interrupts as `wanted` asks, falling back from MSI-X to INTx to polling where the
   * device offers no vector of that kind. `vectorsWanted` is one per queue pair, admin included.
   */
  static async open(device: VfioDevice, wanted: NvmeCompletion, vectorsWanted: number): Promise<CompletionRouting> {
    const order: NvmeCompletion[] = wanted === "msix" ? ["msix", "intx", "poll"] : wanted === "intx" ? ["intx", "poll"] : ["poll"];
    for (const mode of order) {
      if (mode === "poll") return new CompletionRouting(device, "poll", [], 1);
      const index = mode === "msix" ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX;
      const available = (await device.irqInfo(index)).count;
      if (available < 1) continue;
      const count = mode === "msix" ? Math.min(available, vectorsWanted) : 1;
      const notifiers = Array.from({ length: count }, () => device.createNotifier());
      try {
        await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count, notifiers });
      } catch (error) {
        for (const n of notifiers) n.close();
        throw error;
      }
      const routing = new CompletionRouting(device, mode, notifiers, count);
      notifiers.forEach((n, vector) => n.onSignal(() => routing.#interrupt(vector)));
      return routing;
    }
    return new CompletionRouting(device, "poll", [], 1);
  }

  /** Vectors in use: the CQ IV values the controller may be given (at least 1). */
  get vectors(): number {
    return this.#queues.length;
  }

  /** Whether completion queues are created with interrupts enabled (CQ IEN). */
  get interruptsEnabled(): boolean {
    return this.mode !== "poll";
  }

  /** The vector for queue `qid`: the admin queue has 0; I/O queues spread over the rest. */
  vectorFor(qid: number): number {
    if (this.mode !== "msix" || this.vectors === 1) return 0;
    return qid === 0 ? 0 : 1 + ((qid - 1) % (this.vectors - 1));
  }

  attach(queue: QueuePair): void {
    this.#queues[this.vectorFor(queue.qid)]!.push(queue);
  }

  detach(queue: QueuePair): void {
    for (const list of this.#queues) {
      const at = list.indexOf(queue);
      if (at >= 0) list.splice(at, 1);
    }
  }

  /** Called after each submission: starts the polling loop where there are no interrupts. */
  kick(): void {
    if (this.mode !== "poll" || this.#polling || this.#closed) return;
    this.#polling = true;
    setImmediate(() => this.#pollLoop());
  }

  #pollLoop(): void {
    if (this.#closed) {
      this.#polling = false;
      return;
    }
    let outstanding = 0;
    for (const queue of this.#queues[0]!) {
      queue.poll();
      outstanding += queue.outstanding;
    }
    if (outstanding > 0) setImmediate(() => this.#pollLoop());
    else this.#polling = false;
  }

  #interrupt(vector: number): void {
    if (this.#closed) return;
    const queues = this.mode === "intx" ? this.#queues.flat() : this.#queues[vector]!;
    for (const queue of queues) queue.poll();
    if (this.mode === "intx") {
      this.#device
        .setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1 })
        .catch(() => {
          // The device is closing; the deadlines report commands that never complete.
        });
    }
  }

  /** Disables the interrupts and closes the notifiers. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.mode !== "poll") {
      const index = this.mode === "msix" ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_INTX_IRQ_INDEX;
      try {
        await this.#device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 0 });
      } finally {
        for (const n of this.#notifiers) n.close();
      }
    }
  }
}
