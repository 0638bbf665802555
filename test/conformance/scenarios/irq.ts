/** VFIO_DEVICE_SET_IRQS scenarios: validation, the one-interrupt-type rule, loopback triggers, masking. */
import {
  VFIO_IRQ_SET_ACTION_MASK as MASK, VFIO_IRQ_SET_ACTION_TRIGGER as TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK as UNMASK,
  VFIO_IRQ_SET_DATA_BOOL as BOOL, VFIO_IRQ_SET_DATA_EVENTFD as EVENTFD, VFIO_IRQ_SET_DATA_NONE as NONE,
} from "../../../src/api/constants.js";
import type { EventNotifier } from "../../../src/api/event-notifier.js";
import type { VfioDevice } from "../../../src/api/device.js";
import type { IrqSetRequest } from "../../../src/api/irq-set.js";
import { EDU_ROOT, openDevice } from "../fixture.js";
import type { Scenario, ScenarioContext } from "../scenario.js";

const INTX = 0;
const MSI = 1;
const MSIX = 2;
const ERR = 3;
const REQ = 4;

function set(ctx: ScenarioContext, device: VfioDevice, key: string, request: IrqSetRequest) {
  return ctx.attempt(key, () => device.setIrqs(request));
}

/** Counts a notifier's signals; settle() lets pending ones arrive (an eventfd on the kernel backend). */
export function counter(ctx: ScenarioContext, notifier: EventNotifier): { settle(): Promise<number> } {
  let total = 0;
  notifier.onSignal((n) => {
    total += Number(n);
  });
  ctx.defer(() => notifier.close());
  return {
    async settle() {
      await ctx.settle();
      return total;
    },
  };
}

export const irqScenarios: readonly Scenario[] = [
  {
    id: "irq.validation",
    title: "SET_IRQS rejects bad indexes, flags and ranges with EINVAL",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await set(ctx, device, "index_5", { flags: NONE | TRIGGER, index: 5, start: 0, count: 0 });
      await set(ctx, device, "two_data_types", { flags: NONE | BOOL | TRIGGER, index: MSI, start: 0, count: 1, bools: [true] });
      await set(ctx, device, "unknown_flag", { flags: NONE | TRIGGER | 0x40, index: MSI, start: 0, count: 0 });
      await set(ctx, device, "start_past", { flags: NONE | TRIGGER, index: MSI, start: 1, count: 0 });
      await set(ctx, device, "count_past", { flags: EVENTFD | TRIGGER, index: MSI, start: 0, count: 2, notifiers: [null, null] });
      await set(ctx, device, "msix_none", { flags: NONE | TRIGGER, index: MSIX, start: 0, count: 0 });
      await set(ctx, device, "err_conventional", { flags: NONE | TRIGGER, index: ERR, start: 0, count: 0 });
      await set(ctx, device, "no_data_type", { flags: TRIGGER, index: MSI, start: 0, count: 1 });
    },
  },
  {
    id: "irq.actions",
    title: "MSI has no mask/unmask (ENOTTY); two action bits is ENOTTY; INTx mask before enable is EINVAL",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await set(ctx, device, "msi_mask", { flags: NONE | MASK, index: MSI, start: 0, count: 1 });
      await set(ctx, device, "msi_unmask", { flags: NONE | UNMASK, index: MSI, start: 0, count: 1 });
      await set(ctx, device, "two_actions", { flags: NONE | MASK | UNMASK, index: INTX, start: 0, count: 1 });
      await set(ctx, device, "intx_mask_disabled", { flags: NONE | MASK, index: INTX, start: 0, count: 1 });
      await set(ctx, device, "intx_unmask_disabled", { flags: NONE | UNMASK, index: INTX, start: 0, count: 1 });
      await set(ctx, device, "req_mask", { flags: NONE | MASK, index: REQ, start: 0, count: 1 });
    },
  },
  {
    id: "irq.msi-lifecycle",
    title: "MSI: disable when off is EINVAL; enable with an eventfd; loopback trigger signals it; INTx refused while MSI is on",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await set(ctx, device, "disable_when_off", { flags: NONE | TRIGGER, index: MSI, start: 0, count: 0 });
      await set(ctx, device, "loopback_when_off", { flags: NONE | TRIGGER, index: MSI, start: 0, count: 1 });
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await set(ctx, device, "enable", { flags: EVENTFD | TRIGGER, index: MSI, start: 0, count: 1, notifiers: [n] });
      await set(ctx, device, "loopback", { flags: NONE | TRIGGER, index: MSI, start: 0, count: 1 });
      await set(ctx, device, "loopback_bool_false", { flags: BOOL | TRIGGER, index: MSI, start: 0, count: 1, bools: [false] });
      await set(ctx, device, "loopback_bool_true", { flags: BOOL | TRIGGER, index: MSI, start: 0, count: 1, bools: [true] });
      ctx.record("signals", await c.settle());
      await set(ctx, device, "intx_while_msi", { flags: EVENTFD | TRIGGER, index: INTX, start: 0, count: 1, notifiers: [device.createNotifier()] });
      await set(ctx, device, "msix_while_msi", { flags: NONE | TRIGGER, index: MSIX, start: 0, count: 0 });
      await set(ctx, device, "reassign", { flags: EVENTFD | TRIGGER, index: MSI, start: 0, count: 1, notifiers: [n] });
      await set(ctx, device, "disable", { flags: NONE | TRIGGER, index: MSI, start: 0, count: 0 });
      await set(ctx, device, "loopback_after_disable", { flags: NONE | TRIGGER, index: MSI, start: 0, count: 1 });
    },
  },
  {
    id: "irq.msi-flags-in-config",
    title: "Enabling MSI through SET_IRQS does not show Enable in the virtual MSI flags; writes cannot set it",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      const cap = (await device.read(7, 0x34n, 1))[0]!;
      const flags = async () => { const b = await device.read(7, BigInt(cap + 2), 2); return b[0]! | (b[1]! << 8); };
      ctx.record("before", await flags());
      await device.write(7, BigInt(cap + 2), Uint8Array.of(0x01, 0x00));
      ctx.record("write_enable", await flags());
      const n = device.createNotifier();
      ctx.defer(() => n.close());
      await device.setIrqs({ flags: EVENTFD | TRIGGER, index: MSI, start: 0, count: 1, notifiers: [n] });
      ctx.record("after_enable", await flags());
      await device.setIrqs({ flags: NONE | TRIGGER, index: MSI, start: 0, count: 0 });
    },
  },
  {
    id: "irq.intx-lifecycle",
    title: "INTx: enable with an eventfd; loopback signals; mask/unmask accepted; MSI refused while INTx is on",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await set(ctx, device, "count_2", { flags: EVENTFD | TRIGGER, index: INTX, start: 0, count: 2, notifiers: [null, null] });
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await set(ctx, device, "enable", { flags: EVENTFD | TRIGGER, index: INTX, start: 0, count: 1, notifiers: [n] });
      await set(ctx, device, "loopback", { flags: NONE | TRIGGER, index: INTX, start: 0, count: 1 });
      ctx.record("signals", await c.settle());
      await set(ctx, device, "mask", { flags: NONE | MASK, index: INTX, start: 0, count: 1 });
      await set(ctx, device, "mask_eventfd", { flags: EVENTFD | MASK, index: INTX, start: 0, count: 1, notifiers: [n] });
      await set(ctx, device, "unmask", { flags: NONE | UNMASK, index: INTX, start: 0, count: 1 });
      await set(ctx, device, "msi_while_intx", { flags: EVENTFD | TRIGGER, index: MSI, start: 0, count: 1, notifiers: [device.createNotifier()] });
      await set(ctx, device, "disable", { flags: NONE | TRIGGER, index: INTX, start: 0, count: 0 });
      await set(ctx, device, "disable_again", { flags: NONE | TRIGGER, index: INTX, start: 0, count: 0 });
    },
  },
  {
    id: "irq.req",
    title: "REQ: DATA_NONE without an eventfd is EINVAL; with one, loopback signals it; count 0 releases it",
    async run(ctx) {
      const { device } = await openDevice(ctx, EDU_ROOT);
      await set(ctx, device, "none_without_trigger", { flags: NONE | TRIGGER, index: REQ, start: 0, count: 1 });
      const n = device.createNotifier();
      const c = counter(ctx, n);
      await set(ctx, device, "assign", { flags: EVENTFD | TRIGGER, index: REQ, start: 0, count: 1, notifiers: [n] });
      await set(ctx, device, "loopback", { flags: NONE | TRIGGER, index: REQ, start: 0, count: 1 });
      await set(ctx, device, "bool_zero_count", { flags: BOOL | TRIGGER, index: REQ, start: 0, count: 0 });
      await set(ctx, device, "start_1", { flags: NONE | TRIGGER, index: REQ, start: 1, count: 0 });
      ctx.record("signals", await c.settle());
      await set(ctx, device, "release", { flags: NONE | TRIGGER, index: REQ, start: 0, count: 0 });
      await set(ctx, device, "loopback_after_release", { flags: NONE | TRIGGER, index: REQ, start: 0, count: 1 });
      await set(ctx, device, "deassign", { flags: EVENTFD | TRIGGER, index: REQ, start: 0, count: 1, notifiers: [null] });
    },
  },
];
