/**
 * INTx through uio_pci_generic, presented as VFIO's INTx index (VFIO_PCI_INTX_IRQ_INDEX) so a
 * driver written for vfio-pci's semantics runs unchanged:
 *
 * - the kernel's handler masks the line at the device by setting Interrupt Disable in
 *   PCI_COMMAND (pci_check_and_mask_intx in uio_pci_generic.c irqhandler) and counts the
 *   interrupt; the count is read from /dev/uioN on the event loop and becomes one signal of
 *   the driver's notifier: vfio-pci's AUTOMASKED behaviour;
 * - ACTION_UNMASK clears Interrupt Disable through the sysfs config file (uio_pci_generic's
 *   documented re-arm, Documentation/driver-api/uio-howto.rst "Generic PCI UIO driver"),
 *   ACTION_MASK sets it;
 * - errnos are vfio_pci_set_irqs_ioctl's (drivers/vfio/pci/vfio_pci_intrs.c): EINVAL for a
 *   start/count outside the index, for mask/unmask with no trigger set.
 */
import type { EventNotifier } from "../api/event-notifier.js";
import type { IrqSetRequest } from "../api/irq-set.js";
import type { UioEventFile } from "../api/uio-system.js";
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK,
} from "../api/constants.js";
import { VfioSystemError, errnoValue } from "../api/errors.js";

/** Config-space access the INTx logic needs (the device's sysfs config file). */
export interface CommandRegister {
  read16(offset: number): number;
  write16(offset: number, value: number): void;
}

export class UioIntx {
  #trigger: EventNotifier | undefined;
  #last = 0;

  constructor(private readonly events: UioEventFile | undefined, private readonly config: CommandRegister, private readonly target: string) {}

  /** VFIO_DEVICE_SET_IRQS on the INTx index. */
  set(request: IrqSetRequest): void {
    const action = request.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    const data = request.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    const max = this.events ? 1 : 0;
    if (request.count !== 0 && (request.start >= max || request.start + request.count > max)) {
      throw this.#error(max === 0 ? "this device has no UIO interrupt (no IRQ, or opened as the plain userspace driver: poll instead)" : "INTx has one vector: start 0, count 1");
    }
    if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
      if (data === VFIO_IRQ_SET_DATA_NONE && request.count === 0) return this.disable();
      if (data === VFIO_IRQ_SET_DATA_EVENTFD) {
        const notifier = request.notifiers?.[0];
        if (!notifier) return this.disable();
        return this.#enable(notifier);
      }
      // DATA_NONE/BOOL with count 1: a loopback trigger (vfio_pci_set_intx_trigger).
      if (this.#trigger && (data === VFIO_IRQ_SET_DATA_NONE || request.bools?.[0])) this.#trigger.signal();
      return;
    }
    if (action === VFIO_IRQ_SET_ACTION_UNMASK || action === VFIO_IRQ_SET_ACTION_MASK) {
      if (!this.#trigger) throw this.#error("INTx is not enabled: set a trigger first");
      if (data === VFIO_IRQ_SET_DATA_BOOL && !request.bools?.[0]) return;
      if (action === VFIO_IRQ_SET_ACTION_UNMASK) this.#setDisable(false);
      else this.#setDisable(true);
      return;
    }
    throw this.#error("unknown action");
  }

  /** Stops delivering and leaves the line masked at the device. */
  disable(): void {
    if (!this.#trigger) return;
    this.#trigger = undefined;
    this.events?.stop();
    this.#setDisable(true);
  }

  #enable(notifier: EventNotifier): void {
    this.#trigger = notifier;
    this.events!.listen((total) => {
      // The count is the device's total since registration (uio_read): signal once per read
      // that advanced it, as an eventfd counts whatever arrived since the last read.
      if (total === this.#last) return;
      this.#last = total;
      this.#trigger?.signal();
    });
    // vfio_intx_enable starts unmasked: clear a mask left from an earlier interrupt.
    this.#setDisable(false);
  }

  #setDisable(disabled: boolean): void {
    const command = this.config.read16(PCI_COMMAND);
    const next = disabled ? command | PCI_COMMAND_INTX_DISABLE : command & ~PCI_COMMAND_INTX_DISABLE;
    if (next !== command) this.config.write16(PCI_COMMAND, next);
  }

  #error(hint: string): VfioSystemError {
    return new VfioSystemError("VFIO_DEVICE_SET_IRQS", errnoValue("EINVAL"), "sysfs", `${this.target} IRQ index 0`, hint);
  }
}
