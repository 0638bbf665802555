// Guest tests of interrupts through VFIO_DEVICE_SET_IRQS and eventfds, with QEMU's edu raising them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
} from "../../src/api/constants.js";
import { enableMemoryAndBusMaster } from "../../src/api/pci-config.js";
import { EDU, NVME, edu, open, quietEdu, skip, sleep } from "./guest.js";

const TRIGGER_FD = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))]);
}

test("MSI: an edu interrupt reaches the eventfd's listener on the event loop; disabling stops it", { skip }, async (t) => {
  const { device } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const notifier = device.createKernelNotifier();
  await device.setIrqs({ flags: TRIGGER_FD, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] });
  const counts: bigint[] = [];
  const first = new Promise<void>((resolve) => notifier.onSignal((count) => { counts.push(count); resolve(); }));
  bar.write32(edu.IRQ_RAISE, 0x1);
  await within(first, 2000, "MSI");
  assert.deepEqual(counts, [1n]);
  assert.equal(bar.read32(edu.IRQ_STATUS), 0x1);
  bar.write32(edu.IRQ_ACK, 0x1);
  // The factorial unit raises the interrupt too when asked (status bit 7).
  const second = notifier.next();
  bar.write32(edu.STATUS, 0x80);
  bar.write32(edu.FACTORIAL, 5);
  await within(second, 2000, "factorial MSI");
  bar.write32(edu.STATUS, 0);
  assert.equal(bar.read32(edu.FACTORIAL), 120);
  bar.write32(edu.IRQ_ACK, bar.read32(edu.IRQ_STATUS));
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 0 });
  bar.write32(edu.IRQ_RAISE, 0x2);
  await sleep(200);
  assert.equal(counts.length, 2);
  assert.equal(notifier.take(), 0n);
  bar.write32(edu.IRQ_ACK, 0x2);
});

test("INTx: trigger, automask until unmasked, explicit mask holds the interrupt back, unmask delivers it", { skip }, async (t) => {
  const { device } = await open(t);
  await enableMemoryAndBusMaster(device);
  const bar = await device.mapRegion(0);
  quietEdu(bar);
  const notifier = device.createKernelNotifier();
  const intx = (flags: number) => device.setIrqs({ flags, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1 });
  await device.setIrqs({ flags: TRIGGER_FD, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] });

  bar.write32(edu.IRQ_RAISE, 0x1);
  assert.equal(await within(notifier.next(), 2000, "INTx"), 1n);
  bar.write32(edu.IRQ_ACK, 0x1);
  await intx(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK);

  await intx(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK);
  bar.write32(edu.IRQ_RAISE, 0x4);
  await sleep(200);
  assert.equal(notifier.take(), 0n, "masked INTx must not signal");
  const released = notifier.next();
  await intx(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK);
  // The line is still asserted, so unmasking delivers it at once.
  assert.equal(await within(released, 2000, "INTx after unmask"), 1n);
  bar.write32(edu.IRQ_ACK, 0x4);
  await intx(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 0 });
});

test("SET_IRQS misuse, with Linux 6.1's errnos: EINVAL for ranges, data types and INTx beside MSI; ENOTTY for masking MSI", { skip }, async (t) => {
  const { device } = await open(t);
  const notifier = device.createKernelNotifier();
  const none = VFIO_IRQ_SET_DATA_NONE;
  const misuse = [
    [{ flags: TRIGGER_FD, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] }, "EINVAL"],
    [{ flags: TRIGGER_FD, index: VFIO_PCI_MSI_IRQ_INDEX, start: 1, count: 1, notifiers: [notifier] }, "EINVAL"],
    [{ flags: TRIGGER_FD, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 2, notifiers: [notifier, notifier] }, "EINVAL"],
    [{ flags: none | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1 }, "ENOTTY"],
    [{ flags: none | VFIO_IRQ_SET_ACTION_UNMASK, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1 }, "ENOTTY"],
    [{ flags: none | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1 }, "EINVAL"],
    [{ flags: none | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 0 }, "EINVAL"],
    [{ flags: none | VFIO_IRQ_SET_ACTION_TRIGGER, index: 5, start: 0, count: 0 }, "EINVAL"],
  ] as const;
  for (const [request, code] of misuse) {
    await assert.rejects(device.setIrqs(request), { code, op: "VFIO_DEVICE_SET_IRQS" }, JSON.stringify({ ...request, notifiers: undefined }));
  }
  await device.setIrqs({ flags: TRIGGER_FD, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] });
  await assert.rejects(device.setIrqs({ flags: TRIGGER_FD, index: VFIO_PCI_INTX_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] }), { code: "EINVAL" });
});

test("MSI-X on the NVMe: 65 vectors; a vector's eventfd fires when the kernel is asked to trigger it (DATA_NONE and DATA_BOOL)", { skip }, async (t) => {
  const { device } = await open(t, NVME);
  assert.equal((await device.irqInfo(VFIO_PCI_MSIX_IRQ_INDEX)).count, 65);
  const notifiers = [device.createKernelNotifier(), device.createKernelNotifier()];
  await device.setIrqs({ flags: TRIGGER_FD, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 2, notifiers });
  const first = notifiers[1]!.next();
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 1, count: 1 });
  assert.equal(await within(first, 2000, "MSI-X vector 1"), 1n);
  assert.equal(notifiers[0]!.take(), 0n);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 2, bools: [true, false] });
  await sleep(50);
  assert.deepEqual(notifiers.map((n) => n.take()), [1n, 0n]);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 0 });
});

test("a process that took an MSI and closed its device exits by itself", { skip }, () => {
  const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  const source = `
    const { KernelSystem } = await import(${url("../../src/kernel/system.js")});
    const { openDevice } = await import(${url("../../src/api/open-device.js")});
    const { enableMemoryAndBusMaster } = await import(${url("../../src/api/pci-config.js")});
    const system = new KernelSystem();
    const opened = await openDevice(system, ${JSON.stringify(EDU)});
    await enableMemoryAndBusMaster(opened.device);
    const bar = await opened.device.mapRegion(0);
    bar.write32(${edu.STATUS}, 0);
    bar.write32(${edu.IRQ_ACK}, bar.read32(${edu.IRQ_STATUS}));
    const notifier = opened.device.createKernelNotifier();
    await opened.device.setIrqs({ flags: ${TRIGGER_FD}, index: 1, start: 0, count: 1, notifiers: [notifier] });
    notifier.onSignal(async (count) => {
      process.stdout.write("irq " + count + "\\n");
      bar.write32(${edu.IRQ_ACK}, 1);
      await opened.close();
    });
    bar.write32(${edu.IRQ_RAISE}, 1);
  `;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", source], { timeout: 20_000, encoding: "utf8" });
  assert.equal(result.error, undefined, "the child did not exit by itself");
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /irq 1/);
});
