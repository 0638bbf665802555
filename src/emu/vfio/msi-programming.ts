/**
 * The host kernel's side of a bound function's interrupts on the emulated machine: what Linux's
 * MSI layer (drivers/pci/msi/msi.c) and the INTx masking of drivers/pci/pci.c do to the
 * function's physical config space and MSI-X table when vfio-pci asks. The vfio-pci interrupt
 * core (devices/vfio-pci/interrupts.ts) drives it.
 */
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_INTERRUPT_PIN, PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR, PCI_MSIX_ENTRY_SIZE, PCI_MSIX_ENTRY_UPPER_ADDR, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE, PCI_MSI_ADDRESS_HI, PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_64, PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_MASKBIT, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE,
} from "../../api/pci-regs.js";
import {
  VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
} from "../../api/constants.js";
import type { InterruptHardware } from "../../devices/vfio-pci/interrupts.js";
import type { PciFunction } from "../pci/function.js";

/** The x86 MSI address window (Intel SDM vol. 3 §10.11.1): what the host kernel programs. */
const MSI_ADDRESS = 0xfee00000;
/** The message data Linux 6.1 programmed for edu's vector in the guest (vector 0x21, fixed, edge). */
const MSI_DATA = 0x4021;

export interface MsiProgrammingContext {
  /** The function drives INTx now. */
  intxAsserted(): boolean;
  /** The user's virtual INTx Disable (vfio-pci's vconfig). */
  intxDisabledByUser(): boolean;
  /** vfio-pci's virtual MSI Multiple Message Enable follows what the host granted. */
  msiGranted(qmax: number): void;
}

/** vfio_pci_get_irq_count() for a function. */
export function irqCount(fn: PciFunction, index: number): number {
  const cfg = fn.config;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      return cfg.read(PCI_INTERRUPT_PIN, 1) ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX:
      return cfg.msiCap ? 1 << ((cfg.read(cfg.msiCap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1) : 0;
    case VFIO_PCI_MSIX_IRQ_INDEX:
      return cfg.msixCap ? (cfg.read(cfg.msixCap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1 : 0;
    case VFIO_PCI_ERR_IRQ_INDEX:
      return fn.isPcie ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
      return 1;
    default:
      return 0;
  }
}

/** The InterruptHardware of a function on the emulated machine. */
export function msiProgramming(fn: PciFunction, ctx: MsiProgrammingContext): InterruptHardware {
  const cfg = fn.config;
  const setIntxDisable = (disable: boolean): void => {
    cfg.write(PCI_COMMAND, 2, disable ? cfg.command | PCI_COMMAND_INTX_DISABLE : cfg.command & ~PCI_COMMAND_INTX_DISABLE);
  };
  const msixEntry = (vector: number): bigint => BigInt(cfg.msix!.spec.tableOffset + vector * PCI_MSIX_ENTRY_SIZE);
  return {
    irqCount: (index) => irqCount(fn, index),
    intxAsserted: () => ctx.intxAsserted(),
    intxDisabledByUser: () => ctx.intxDisabledByUser(),
    maskIntx: setIntxDisable,
    enableMsi(kind, nvec) {
      if (kind === "msi" && cfg.msiCap) {
        const pos = cfg.msiCap;
        const qmax = Math.ceil(Math.log2(nvec));
        ctx.msiGranted(qmax);
        cfg.write(pos + PCI_MSI_ADDRESS_LO, 4, MSI_ADDRESS);
        cfg.write(pos + PCI_MSI_ADDRESS_HI, 4, 0);
        cfg.write(pos + PCI_MSI_DATA_64, 2, MSI_DATA);
        const flags = cfg.read(pos + PCI_MSI_FLAGS, 2);
        cfg.write(pos + PCI_MSI_FLAGS, 2, (flags & ~PCI_MSI_FLAGS_QSIZE & ~PCI_MSI_FLAGS_MASKBIT) | (qmax << 4) | PCI_MSI_FLAGS_ENABLE);
      } else if (kind === "msix" && cfg.msix) {
        // msix_capability_init(): enable with Function Mask, program and mask every entry, then
        // drop Function Mask; each vector is unmasked when its handler is requested.
        const control = cfg.msixCap + PCI_MSIX_FLAGS;
        cfg.write(control, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        const msix = cfg.msix;
        const bar = msix.spec.tableBar;
        for (let v = 0; v < nvec; v++) {
          const at = msixEntry(v);
          msix.write(bar, at + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL), 4, BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
          msix.write(bar, at + BigInt(PCI_MSIX_ENTRY_LOWER_ADDR), 4, BigInt(MSI_ADDRESS));
          msix.write(bar, at + BigInt(PCI_MSIX_ENTRY_UPPER_ADDR), 4, 0n);
          msix.write(bar, at + BigInt(PCI_MSIX_ENTRY_DATA), 4, BigInt(MSI_DATA + v));
        }
        cfg.write(control, 2, PCI_MSIX_FLAGS_ENABLE);
      }
      // pci_intx_for_msi(): INTx is disabled while MSI or MSI-X is on.
      setIntxDisable(true);
    },
    disableMsi(kind) {
      if (kind === "msi" && cfg.msiCap) {
        cfg.write(cfg.msiCap + PCI_MSI_FLAGS, 2, cfg.read(cfg.msiCap + PCI_MSI_FLAGS, 2) & ~PCI_MSI_FLAGS_ENABLE);
      } else if (kind === "msix" && cfg.msixCap) {
        cfg.write(cfg.msixCap + PCI_MSIX_FLAGS, 2, 0);
      }
      setIntxDisable(false);
    },
    vectorRouted(kind, vector, routed) {
      // request_irq() unmasks the entry, free_irq() masks it (msi_domain ops: pci_msix_unmask/mask).
      if (kind !== "msix" || !cfg.msix) return;
      cfg.msix.write(cfg.msix.spec.tableBar, msixEntry(vector) + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL), 4, routed ? 0n : BigInt(PCI_MSIX_ENTRY_CTRL_MASKBIT));
    },
  };
}
