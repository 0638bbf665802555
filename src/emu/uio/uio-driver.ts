/**
 * uio_pci_generic on the emulated machine (drivers/uio/uio_pci_generic.c, drivers/uio/uio.c,
 * Linux 6.1): probe refuses a function with an interrupt pin whose Interrupt Disable bit does
 * not stick (pci_intx_mask_supported → -ENODEV); a bound function gets the lowest free uio
 * number (uio_get_minor's idr); its interrupt handler masks INTx at the device
 * (pci_check_and_mask_intx: only when the function shows Interrupt Status) and counts the
 * event that /dev/uioN readers see.
 */
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE } from "../../api/constants.js";
import { errnoValue } from "../../api/errors.js";
import type { PciFunction } from "../pci/function.js";

const PCI_STATUS = 0x06;
const PCI_STATUS_INTERRUPT = 0x08;

/** One registered UIO device: /dev/uio<number>. */
export interface UioRegistration {
  readonly number: number;
  readonly fn: PciFunction;
  /** idev->event: interrupts handled since registration. */
  events: number;
  /** Readers woken on each event (uio_event_notify → wake_up_interruptible). */
  readonly listeners: Set<() => void>;
}

export class UioPciGeneric {
  readonly devices = new Map<PciFunction, UioRegistration>();

  /** `changed` is told whenever something sysfs shows (an event count) changes. */
  constructor(private readonly changed: () => void = () => {}) {}

  /** pci_intx_mask_supported(): flip Interrupt Disable, see whether it sticks, restore. */
  static intxMaskSupported(fn: PciFunction): boolean {
    const command = fn.config.read(PCI_COMMAND, 2);
    fn.config.write(PCI_COMMAND, 2, command ^ PCI_COMMAND_INTX_DISABLE);
    const flipped = fn.config.read(PCI_COMMAND, 2);
    fn.config.write(PCI_COMMAND, 2, command);
    return ((flipped ^ command) & PCI_COMMAND_INTX_DISABLE) !== 0;
  }

  /** probe(): 0 or the positive errno. */
  static probe(fn: PciFunction): number {
    if (fn.model.intxPin !== 0 && !UioPciGeneric.intxMaskSupported(fn)) return errnoValue("ENODEV");
    return 0;
  }

  /** After a successful probe: uio_register_device. */
  register(fn: PciFunction): UioRegistration {
    const used = new Set([...this.devices.values()].map((d) => d.number));
    let number = 0;
    while (used.has(number)) number++;
    const registration: UioRegistration = { number, fn, events: 0, listeners: new Set() };
    this.devices.set(fn, registration);
    return registration;
  }

  unregister(fn: PciFunction): void {
    this.devices.delete(fn);
  }

  byNumber(number: number): UioRegistration | undefined {
    return [...this.devices.values()].find((d) => d.number === number);
  }

  /**
   * The function's INTx line is asserted and not disabled: irqhandler() masks it (sets
   * Interrupt Disable; the line is then not seen again until userspace clears the bit) and
   * uio_event_notify counts it.
   */
  interrupt(fn: PciFunction): void {
    const registration = this.devices.get(fn);
    if (!registration) return;
    if ((fn.config.read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT) === 0) return; // IRQ_NONE: not ours
    fn.config.write(PCI_COMMAND, 2, fn.config.read(PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE);
    registration.events++;
    this.changed();
    for (const listener of registration.listeners) listener();
  }
}
