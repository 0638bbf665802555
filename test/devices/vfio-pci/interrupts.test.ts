/**
 * The vfio-pci interrupt core on its own, over a recording InterruptHardware: Linux 6.1's
 * SET_IRQS validation and errnos, one interrupt type at a time, the hardware calls in the
 * order vfio_pci_intrs.c makes them, and the msiMasking policy a vfio-user server may choose.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
} from "../../../src/api/constants.js";
import type { EventNotifier } from "../../../src/api/event-notifier.js";
import { type InterruptHardware, type InterruptPolicy, VfioPciInterrupts } from "../../../src/devices/vfio-pci/interrupts.js";

class Failure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function core(policy: InterruptPolicy = {}) {
  const calls: string[] = [];
  let asserted = false;
  const hw: InterruptHardware = {
    irqCount: (index) => [1, 4, 8, 0, 1][index] ?? 0,
    intxAsserted: () => asserted,
    intxDisabledByUser: () => false,
    maskIntx: (m) => void calls.push(`intx ${m ? "masked" : "unmasked"}`),
    enableMsi: (kind, nvec) => void calls.push(`enable ${kind} ${nvec}`),
    disableMsi: (kind) => void calls.push(`disable ${kind}`),
    vectorRouted: (kind, v, routed) => void calls.push(`${kind}[${v}] ${routed ? "routed" : "freed"}`),
  };
  const irqs = new VfioPciInterrupts(hw, (errno) => {
    throw new Failure(errno);
  }, policy);
  return { irqs, calls, assert: (v: boolean) => (asserted = v) };
}

const notifier = (): EventNotifier & { count: number } => {
  const n = { count: 0, fd: undefined, signal: () => void n.count++, onSignal: () => {}, next: async () => 0n, close: () => {}, [Symbol.dispose]: () => {} };
  return n;
};
const eventfd = (index: number, start: number, notifiers: (EventNotifier | null)[]) =>
  ({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start, count: notifiers.length, notifiers });
const code = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof Failure ? e.code : String(e);
  }
};

test("MSI-X: enabling allocates start+count vectors, routes the triggered ones, frees them on disable", () => {
  const { irqs, calls } = core();
  const a = notifier();
  irqs.setIrqs(eventfd(VFIO_PCI_MSIX_IRQ_INDEX, 0, [a, null]));
  irqs.signalVector("msix", 0);
  irqs.signalVector("msi", 0);
  assert.equal(a.count, 1, "only MSI-X vectors reach an MSI-X trigger");
  irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 0 });
  assert.deepEqual(calls, ["enable msix 2", "msix[0] routed", "msix[0] freed", "disable msix"]);
  assert.equal(irqs.mode, "none");
});

test("validation answers as Linux: past the vectors EINVAL, another type enabled EINVAL, masking MSI ENOTTY, INTx mask by eventfd ENOTTY", () => {
  const { irqs } = core();
  assert.equal(code(() => irqs.setIrqs(eventfd(VFIO_PCI_MSI_IRQ_INDEX, 3, [notifier(), notifier()]))), "EINVAL");
  assert.equal(code(() => irqs.setIrqs(eventfd(3, 0, [notifier()]))), "EINVAL", "no ERR vector on a conventional function");
  assert.equal(code(() => irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 2, bools: [true] })), "EINVAL");
  irqs.setIrqs(eventfd(VFIO_PCI_MSI_IRQ_INDEX, 0, [notifier()]));
  assert.equal(code(() => irqs.setIrqs(eventfd(VFIO_PCI_MSIX_IRQ_INDEX, 0, [notifier()]))), "EINVAL");
  assert.equal(code(() => irqs.setIrqs(eventfd(VFIO_PCI_INTX_IRQ_INDEX, 0, [notifier()]))), "EINVAL");
  assert.equal(code(() => irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1 })), "ENOTTY");
  assert.equal(code(() => irqs.setIrqs(eventfd(VFIO_PCI_MSI_IRQ_INDEX, 1, [notifier()]))), "EINVAL", "NORESIZE: past the vectors enabled");
  irqs.disable();
  irqs.setIrqs(eventfd(VFIO_PCI_INTX_IRQ_INDEX, 0, [notifier()]));
  assert.equal(code(() => irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier()] })), "ENOTTY");
});

test("INTx is automasked when it fires and re-fires on unmask while the line is still asserted", () => {
  const { irqs, calls, assert: line } = core();
  const n = notifier();
  irqs.setIrqs(eventfd(VFIO_PCI_INTX_IRQ_INDEX, 0, [n]));
  line(true);
  irqs.intxFired();
  irqs.intxFired();
  assert.equal(n.count, 1, "masked after the first");
  irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1 });
  assert.equal(n.count, 2, "still asserted: sent again, still masked");
  line(false);
  irqs.intxUnmask();
  assert.equal(irqs.intxMasked, false);
  assert.deepEqual(calls, ["intx unmasked", "intx masked", "intx unmasked"]);
});

test("the msiMasking policy (libvfio-user's answer) masks and unmasks vectors instead of ENOTTY", () => {
  const { irqs } = core({ msiMasking: true });
  const n = [notifier(), notifier()];
  irqs.setIrqs(eventfd(VFIO_PCI_MSIX_IRQ_INDEX, 0, n));
  irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 2, bools: [false, true] });
  irqs.signalVector("msix", 0);
  irqs.signalVector("msix", 1);
  assert.deepEqual(n.map((x) => x.count), [1, 0]);
  irqs.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 1, count: 1 });
  irqs.signalVector("msix", 1);
  assert.deepEqual(n.map((x) => x.count), [1, 1]);
});
