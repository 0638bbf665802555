/**
 * vfio-pci's interrupt core, once for every host: VFIO_DEVICE_SET_IRQS as Linux 6.1 validates
 * and performs it (drivers/vfio/vfio_main.c vfio_set_irqs_validate_and_prepare,
 * drivers/vfio/pci/vfio_pci_intrs.c vfio_pci_set_irqs_ioctl), and the device-side events that
 * fire the triggers userspace set (vfio_intx_handler, vfio_msihandler, the err and req
 * signals). INTx, MSI and MSI-X; ACTION_TRIGGER, MASK and UNMASK; DATA_NONE, BOOL and EVENTFD;
 * one interrupt type at a time; count 0 with DATA_NONE disables.
 *
 * The host supplies the hardware side (InterruptHardware: the emulated machine programs the
 * function's capability and MSI-X table as the host kernel's MSI layer would; a vfio-user
 * server has no host kernel and signals the client's eventfds directly) and a `fail` that
 * raises its own error type with Linux's errno. Where a host answers differently from Linux
 * on purpose (libvfio-user does), that is an InterruptPolicy, not a second copy.
 */
import type { EventNotifier } from "../../api/event-notifier.js";
import type { IrqSetRequest } from "../../api/irq-set.js";
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_NUM_IRQS,
  VFIO_PCI_REQ_IRQ_INDEX,
} from "../../api/constants.js";

/** The interrupt type enabled now (vdev->irq_type). */
export type IrqMode = "none" | "intx" | "msi" | "msix";

/** The errnos SET_IRQS fails with. */
export type IrqErrno = "EINVAL" | "ENOTTY";

/** What the core needs of the function and its host. */
export interface InterruptHardware {
  /** vfio_pci_get_irq_count(): vectors of `index` (0 where the function has none). */
  irqCount(index: number): number;
  /** The function drives its INTx line now. */
  intxAsserted(): boolean;
  /** The user's INTx Disable in the virtual Command register (vfio_pci_config.c virq_disabled). */
  intxDisabledByUser(): boolean;
  /** Masks or unmasks INTx at the function (pci_2_3: the physical Command's INTx Disable). */
  maskIntx(masked: boolean): void;
  /** vfio_msi_enable(): `nvec` vectors of MSI or MSI-X allocated and programmed, INTx disabled. */
  enableMsi(kind: "msi" | "msix", nvec: number): void;
  /** vfio_msi_disable(): the capability disabled, INTx re-enabled. */
  disableMsi(kind: "msi" | "msix"): void;
  /** A vector got a trigger (request_irq: the host unmasks it) or lost it (free_irq: masks it). */
  vectorRouted?(kind: "msi" | "msix", vector: number, routed: boolean): void;
}

/** Deliberate differences from Linux a host may choose; every one defaults to Linux's answer. */
export interface InterruptPolicy {
  /**
   * ACTION_MASK/UNMASK on the MSI and MSI-X indexes. Linux 6.1 answers ENOTTY ("XXX Need
   * masking support exported"); libvfio-user accepts them and keeps a per-vector mask.
   */
  readonly msiMasking?: boolean;
}

/** SET_IRQS payload after validation. */
interface IrqData {
  readonly type: number;
  readonly bools: readonly boolean[];
  readonly notifiers: readonly (EventNotifier | null)[];
}

/** U32_MAX, for vfio_set_irqs_validate_and_prepare's overflow test. */
const U32_MAX = 0xffffffff;

export class VfioPciInterrupts {
  mode: IrqMode = "none";
  /** Per-vector triggers (vdev->ctx[i].trigger) while INTx, MSI or MSI-X is enabled. */
  triggers: (EventNotifier | null)[] = [];
  /** Per-vector masks of MSI/MSI-X under the msiMasking policy. */
  private vectorMasked: boolean[] = [];
  /** vdev->ctx[0].masked for INTx. */
  intxMasked = false;
  reqTrigger: EventNotifier | null = null;
  errTrigger: EventNotifier | null = null;

  constructor(
    private readonly hw: InterruptHardware,
    private readonly fail: (errno: IrqErrno, why?: string) => never,
    private readonly policy: InterruptPolicy = {},
  ) {}

  /** VFIO_DEVICE_SET_IRQS: vfio_set_irqs_validate_and_prepare(), then vfio_pci_set_irqs_ioctl(). */
  setIrqs(request: IrqSetRequest): void {
    const { flags, index, start, count } = request;
    if (index < 0 || index >= VFIO_PCI_NUM_IRQS || count >= U32_MAX - start || flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) {
      this.fail("EINVAL", "bad index, count or flags");
    }
    const max = this.hw.irqCount(index);
    if (start >= max || start + count > max) this.fail("EINVAL", `vectors ${start}..${start + count} exceed the ${max} of index ${index}`);
    const dataType = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (dataType !== VFIO_IRQ_SET_DATA_NONE && dataType !== VFIO_IRQ_SET_DATA_BOOL && dataType !== VFIO_IRQ_SET_DATA_EVENTFD) {
      this.fail("EINVAL", "exactly one DATA_* flag is needed");
    }
    // The data array must hold `count` entries (argsz - minsz < count * size → EINVAL).
    if (dataType === VFIO_IRQ_SET_DATA_BOOL && (request.bools?.length ?? 0) < count) this.fail("EINVAL", "fewer bools than count");
    if (dataType === VFIO_IRQ_SET_DATA_EVENTFD && (request.notifiers?.length ?? 0) < count) this.fail("EINVAL", "fewer notifiers than count");
    const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    const data: IrqData = { type: dataType, bools: request.bools ?? [], notifiers: request.notifiers ?? [] };
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_MASK) return this.setIntxMask(start, count, data);
        if (action === VFIO_IRQ_SET_ACTION_UNMASK) return this.setIntxUnmask(start, count, data);
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setIntxTrigger(start, count, data);
        break;
      case VFIO_PCI_MSI_IRQ_INDEX:
      case VFIO_PCI_MSIX_IRQ_INDEX: {
        const kind = index === VFIO_PCI_MSIX_IRQ_INDEX ? "msix" : "msi";
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.setMsiTrigger(kind, start, count, data);
        // Linux: "XXX Need masking support exported" (ENOTTY below), unless the host's policy differs.
        if (this.policy.msiMasking && (action === VFIO_IRQ_SET_ACTION_MASK || action === VFIO_IRQ_SET_ACTION_UNMASK)) {
          return this.setMsiMask(kind, start, count, data, action === VFIO_IRQ_SET_ACTION_MASK);
        }
        break;
      }
      case VFIO_PCI_ERR_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER && max > 0) {
          if (start !== 0 || count > 1) this.fail("EINVAL");
          this.errTrigger = this.setSingle(this.errTrigger, count, data);
          return;
        }
        break;
      case VFIO_PCI_REQ_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
          if (start !== 0 || count > 1) this.fail("EINVAL");
          this.reqTrigger = this.setSingle(this.reqTrigger, count, data);
          return;
        }
        break;
    }
    this.fail("ENOTTY", "that action is not supported on that index");
  }

  // ---- events from the device side ----

  /** The function sent MSI or MSI-X `vector` (vfio_msihandler signals its trigger). */
  signalVector(kind: "msi" | "msix", vector: number): void {
    if (this.mode !== kind || this.vectorMasked[vector]) return;
    this.triggers[vector]?.signal();
  }

  /** The function's INTx line fired (vfio_intx_handler with pci_2_3 masking: masked until unmasked). */
  intxFired(): void {
    if (this.mode !== "intx" || this.intxMasked) return;
    if (!this.triggers[0]) return; // no handler registered without an eventfd
    this.intxMask();
    this.sendIntx();
  }

  /** vfio_pci_intx_mask(). */
  intxMask(): void {
    if (this.mode === "intx" && !this.intxMasked) {
      this.hw.maskIntx(true);
      this.intxMasked = true;
    }
  }

  /** vfio_pci_intx_unmask(): a line still asserted is re-sent at once and stays masked. */
  intxUnmask(): void {
    if (this.mode !== "intx" || !this.intxMasked || this.hw.intxDisabledByUser()) return;
    if (this.hw.intxAsserted()) {
      this.sendIntx();
      return;
    }
    this.hw.maskIntx(false);
    this.intxMasked = false;
  }

  /** vfio_pci_irq_disable and the close path: every type off, err and req triggers dropped. */
  disable(): void {
    if (this.mode === "msi" || this.mode === "msix") this.msiDisable();
    else if (this.mode === "intx") this.intxDisable();
    this.reqTrigger = null;
    this.errTrigger = null;
  }

  // ---- internals ----

  /** vfio_pci_set_ctx_trigger_single(): err and req; DATA_NONE/DATA_BOOL for loopback tests. */
  private setSingle(current: EventNotifier | null, count: number, data: IrqData): EventNotifier | null {
    if (data.type === VFIO_IRQ_SET_DATA_NONE) {
      if (current) {
        if (count) {
          current.signal();
          return current;
        }
        return null;
      }
    } else if (data.type === VFIO_IRQ_SET_DATA_BOOL) {
      if (!count) this.fail("EINVAL");
      if (data.bools[0] && current) current.signal();
      return current;
    } else if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      if (!count) this.fail("EINVAL");
      return data.notifiers[0] ?? null;
    }
    this.fail("EINVAL", "no trigger to signal");
  }

  private setIntxTrigger(start: number, count: number, data: IrqData): void {
    if (this.mode === "intx" && !count && data.type === VFIO_IRQ_SET_DATA_NONE) {
      this.intxDisable();
      return;
    }
    if (!(this.mode === "intx" || this.mode === "none") || start !== 0 || count !== 1) this.fail("EINVAL");
    if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      const notifier = data.notifiers[0] ?? null;
      if (this.mode === "intx") {
        this.triggers[0] = notifier;
        return;
      }
      // vfio_intx_enable(): masked state follows the virtual INTx Disable; pci_2_3 masking in hardware.
      this.mode = "intx";
      this.intxMasked = this.hw.intxDisabledByUser();
      this.hw.maskIntx(this.intxMasked);
      this.triggers = [notifier];
      // A level still asserted fires at once when the handler is installed.
      if (notifier && this.hw.intxAsserted()) this.intxFired();
      return;
    }
    if (this.mode !== "intx") this.fail("EINVAL", "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.sendIntx();
  }

  private setIntxMask(start: number, count: number, data: IrqData): void {
    if (this.mode !== "intx" || start !== 0 || count !== 1) this.fail("EINVAL", "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.intxMask();
    else if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) this.fail("ENOTTY", "mask by eventfd is not implemented in Linux");
  }

  private setIntxUnmask(start: number, count: number, data: IrqData): void {
    if (this.mode !== "intx" || start !== 0 || count !== 1) this.fail("EINVAL", "INTx is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_NONE || (data.type === VFIO_IRQ_SET_DATA_BOOL && data.bools[0])) this.intxUnmask();
    // DATA_EVENTFD registers an irqfd-style unmask (virqfd); not modelled beyond acceptance.
  }

  /** vfio_pci_set_msi_trigger(). */
  private setMsiTrigger(kind: "msi" | "msix", start: number, count: number, data: IrqData): void {
    if (this.mode === kind && !count && data.type === VFIO_IRQ_SET_DATA_NONE) {
      this.msiDisable();
      return;
    }
    if (!(this.mode === kind || this.mode === "none")) this.fail("EINVAL", `another interrupt type (${this.mode}) is enabled`);
    if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) {
      if (this.mode !== kind) this.msiEnable(kind, start + count);
      // vfio_msi_set_block(): past the vectors enabled is EINVAL (no resize: NORESIZE).
      if (start >= this.triggers.length || start + count > this.triggers.length) this.fail("EINVAL");
      for (let j = 0; j < count; j++) this.setVectorSignal(kind, start + j, data.notifiers[j] ?? null);
      return;
    }
    if (this.mode !== kind || start + count > this.triggers.length) this.fail("EINVAL", `${kind === "msi" ? "MSI" : "MSI-X"} is not enabled`);
    for (let i = start; i < start + count; i++) {
      const t = this.triggers[i];
      if (!t) continue;
      if (data.type === VFIO_IRQ_SET_DATA_NONE || data.bools[i - start]) t.signal();
    }
  }

  /** Under the msiMasking policy: per-vector mask bits (libvfio-user's irqs_set_data_none/bool for MASK/UNMASK). */
  private setMsiMask(kind: "msi" | "msix", start: number, count: number, data: IrqData, mask: boolean): void {
    if (this.mode !== kind) this.fail("EINVAL", "that interrupt type is not enabled");
    if (data.type === VFIO_IRQ_SET_DATA_EVENTFD) this.fail("EINVAL", "mask by eventfd");
    for (let i = start; i < start + count; i++) {
      if (data.type === VFIO_IRQ_SET_DATA_NONE || data.bools[i - start]) this.vectorMasked[i] = mask;
    }
  }

  /** vfio_msi_set_vector_signal(): the old trigger freed (vector masked), the new one requested (unmasked). */
  private setVectorSignal(kind: "msi" | "msix", vector: number, trigger: EventNotifier | null): void {
    if (this.triggers[vector]) this.hw.vectorRouted?.(kind, vector, false);
    this.triggers[vector] = trigger;
    if (trigger) this.hw.vectorRouted?.(kind, vector, true);
  }

  private msiEnable(kind: "msi" | "msix", nvec: number): void {
    this.mode = kind;
    this.triggers = new Array<EventNotifier | null>(nvec).fill(null);
    this.vectorMasked = new Array<boolean>(nvec).fill(false);
    this.hw.enableMsi(kind, nvec);
  }

  private msiDisable(): void {
    const kind = this.mode;
    if (kind === "msi" || kind === "msix") {
      for (let v = 0; v < this.triggers.length; v++) if (this.triggers[v]) this.hw.vectorRouted?.(kind, v, false);
      this.hw.disableMsi(kind);
    }
    this.mode = "none";
    this.triggers = [];
    this.vectorMasked = [];
  }

  private intxDisable(): void {
    this.mode = "none";
    this.triggers = [];
    this.intxMasked = false;
  }

  private sendIntx(): void {
    if (this.mode === "intx" && !this.hw.intxDisabledByUser()) this.triggers[0]?.signal();
  }
}
