/**
 * MSI-X end to end on the emulated machine: a model raises vector N and the notifier set for N
 * fires; per-vector masking through the table's Vector Control and Function Mask, pending bits
 * in the PBA (PCI Local Bus Spec 3.0 §6.8.2); the table hidden from pread/pwrite as vfio_pci_bar_rw
 * hides it; region info as Linux 6.1 answers for a BAR holding the table (MSIX_MAPPABLE, no sparse areas).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openDevice } from "../../../src/api/open-device.js";
import { enableMemoryAndBusMaster, setBusMaster } from "../../../src/api/pci-config.js";
import {
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_MSIX_IRQ_INDEX, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP,
} from "../../../src/api/constants.js";
import { PCI_MSIX_ENTRY_DATA, PCI_MSIX_ENTRY_VECTOR_CTRL } from "../../../src/api/pci-regs.js";
import { VfioSystemError } from "../../../src/api/errors.js";
import type { VfioDevice } from "../../../src/api/device.js";
import { defaultMachineSpec } from "../../../src/emu/default-machine.js";
import { InProcessNotifier } from "../../../src/emu/notifier.js";
import { EmulatedSystem } from "../../../src/emu/system.js";
import { MSIX_TEST_PBA, MSIX_TEST_RAISE, MSIX_TEST_SCRATCH, MSIX_TEST_TABLE, MSIX_TEST_VECTORS, MsixTestModel } from "../../helpers/msix-test-model.js";

const ADDRESS = "0000:00:08.0";

async function openMsixDevice() {
  const spec = defaultMachineSpec({ guestInit: true });
  const model = new MsixTestModel();
  const system = new EmulatedSystem({
    ...spec,
    functions: [...spec.functions, { address: "00:08.0", kind: "endpoint", express: true, irq: 11, resetMethod: "flr", driverOverride: "vfio-pci", model: () => model }],
  });
  const opened = await openDevice(system, ADDRESS);
  await enableMemoryAndBusMaster(opened.device);
  return { system, model, opened, device: opened.device };
}

const notifiers = (n: number) => Array.from({ length: n }, () => new InProcessNotifier());
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function raise(device: VfioDevice, vector: number): Promise<void> {
  await device.write(0, BigInt(MSIX_TEST_RAISE), Uint8Array.of(vector, 0, 0, 0));
  await settle();
}

async function pba(device: VfioDevice): Promise<number> {
  return (await device.read(0, BigInt(MSIX_TEST_PBA), 1))[0]!;
}

test("region info of the BAR holding the MSI-X table: mmap-able with the MSIX_MAPPABLE cap, no sparse areas (Linux 6.1)", async () => {
  const { device, opened } = await openMsixDevice();
  const info = await device.regionInfo(0);
  assert.equal(info.flags & (VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS), VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
  assert.deepEqual(info.caps, [{ id: 3, kind: "msix-mappable", version: 1 }]);
  assert.equal((await device.irqInfo(VFIO_PCI_MSIX_IRQ_INDEX)).count, MSIX_TEST_VECTORS);
  await opened.close();
});

test("a model raises MSI-X vector N and the notifier set for N fires, and only it", async () => {
  const { device, opened } = await openMsixDevice();
  const n = notifiers(4);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 4, notifiers: n });
  await raise(device, 2);
  assert.deepEqual(n.map((x) => x.signals), [0, 0, 1, 0]);
  await raise(device, 0);
  await raise(device, 2);
  assert.deepEqual(n.map((x) => x.signals), [1, 0, 2, 0]);
  assert.equal(await pba(device), 0, "nothing pending: every raised vector was unmasked");
  await opened.close();
});

test("a vector without a trigger is masked in the table: raising it sets its PBA bit, and routing it later delivers it", async () => {
  const { device, opened } = await openMsixDevice();
  const [n0, n1] = notifiers(2);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 2, notifiers: [n0!, null] });
  await raise(device, 1);
  assert.equal(n1!.signals, 0);
  assert.equal(await pba(device), 0b10, "vector 1 pending");
  // vfio_msi_set_vector_signal: request_irq unmasks the entry; the pending message goes at once.
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 1, count: 1, notifiers: [n1!] });
  await settle();
  assert.equal(n1!.signals, 1);
  assert.equal(await pba(device), 0, "pending bit cleared when the message went");
  await opened.close();
});

test("per-vector masking through the mapped table's Vector Control: masked → pending, unmasked → sent", async () => {
  const { device, opened } = await openMsixDevice();
  const n = notifiers(4);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 4, notifiers: n });
  using bar = await device.mapRegion(0);
  const control = MSIX_TEST_TABLE + 3 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL;
  assert.equal(bar.read32(control), 0, "the host unmasked the routed vector");
  assert.notEqual(bar.read32(MSIX_TEST_TABLE + 3 * 16 + PCI_MSIX_ENTRY_DATA), 0xffffffff, "the mapping shows the programmed message");
  bar.write32(control, 1);
  bar.write32(MSIX_TEST_RAISE, 3);
  await settle();
  assert.equal(n[3]!.signals, 0);
  assert.equal(bar.read32(MSIX_TEST_PBA), 0b1000);
  bar.write32(control, 0);
  await settle();
  assert.equal(n[3]!.signals, 1, "unmasking a pending vector sends it (§6.8.2.9)");
  assert.equal(bar.read32(MSIX_TEST_PBA), 0);
  await opened.close();
});

test("pread/pwrite skip the MSI-X table (all-ones, writes dropped) but reach the PBA and the model's registers", async () => {
  const { device, opened, model } = await openMsixDevice();
  const n = notifiers(1);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1, notifiers: n });
  const entry = BigInt(MSIX_TEST_TABLE + PCI_MSIX_ENTRY_VECTOR_CTRL);
  assert.deepEqual([...(await device.read(0, entry, 4))], [0xff, 0xff, 0xff, 0xff]);
  await device.write(0, entry, Uint8Array.of(1, 0, 0, 0));
  await raise(device, 0);
  assert.equal(n[0]!.signals, 1, "the dropped write did not mask vector 0");
  // A read spanning the table's end: table bytes all-ones, the rest from the model.
  const tableEnd = MSIX_TEST_TABLE + MSIX_TEST_VECTORS * 16;
  const across = await device.read(0, BigInt(tableEnd - 4), 8);
  assert.deepEqual([...across], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  await device.write(0, BigInt(MSIX_TEST_SCRATCH), Uint8Array.of(7, 0, 0, 0));
  assert.equal((await device.read(0, BigInt(MSIX_TEST_SCRATCH), 1))[0], 7);
  const hosts = (at: number) => (at >= MSIX_TEST_TABLE && at < tableEnd) || (at >= MSIX_TEST_PBA && at < MSIX_TEST_PBA + 8);
  assert.ok(model.accesses.includes(`r@${tableEnd.toString(16)}`), "the bytes after the table are the model's");
  assert.ok(!model.accesses.some((a) => hosts(Number.parseInt(a.slice(2), 16))), "the model never saw a table or PBA access");
  await opened.close();
});

test("without Bus Master Enable an MSI-X message is dropped, not held pending", async () => {
  const { device, opened } = await openMsixDevice();
  const n = notifiers(1);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1, notifiers: n });
  await setBusMaster(device, false);
  await raise(device, 0);
  assert.equal(n[0]!.signals, 0);
  assert.equal(await pba(device), 0);
  await opened.close();
});

test("MSI-X masking by SET_IRQS is ENOTTY and vectors past the table EINVAL, as Linux 6.1; disabling stops delivery", async () => {
  const { device, opened } = await openMsixDevice();
  const n = notifiers(1);
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1, notifiers: n });
  await assert.rejects(device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1 }),
    (e: unknown) => e instanceof VfioSystemError && e.code === "ENOTTY");
  await assert.rejects(device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: MSIX_TEST_VECTORS, count: 1, notifiers: n }),
    (e: unknown) => e instanceof VfioSystemError && e.code === "EINVAL");
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 0 });
  await raise(device, 0);
  assert.equal(n[0]!.signals, 0);
  await opened.close();
});
