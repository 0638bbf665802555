/**
 * The last part of `vfio demo`: the same stray DMA that the IOMMU blocked under VFIO, on UIO.
 * The emulated machine boots again with iommu=pt (groups on host drivers get an identity
 * domain: the IOMMU does not translate for them), the edu moves to uio_pci_generic, and the
 * UIO backend (uio/) hosts the same edu driver as under VFIO: the device reaches memory by
 * physical address, and a write to memory the process never gave it lands there.
 */
import { EduDriver } from "../drivers/edu.js";
import { defaultMachineSpec } from "../emu/default-machine.js";
import { Machine } from "../emu/machine.js";
import { EmulatedUioSystem } from "../emu/uio/system.js";
import { openUioDevice } from "../uio/open.js";
import { UNSAFE_NO_IOMMU_WARNING } from "../uio/opt-in.js";
import { hex } from "./format.js";
import type { Style } from "./style.js";

const EDU = "0000:00:03.0";
/** Physical memory the process never allocated: the kernel's, on a real machine. */
const SOMEONE_ELSES = 0x10_0000n;
const STRAY_LENGTH = 64;

export interface TourOutput {
  out(line?: string): void;
  step(title: string): void;
  call(text: string, result: string): void;
  warn(line: string): void;
  readonly style: Style;
}

export async function uioContrast(t: TourOutput, stepNumber: number): Promise<void> {
  t.step(`${stepNumber}. The same DMA on UIO, with no IOMMU in the way`);
  t.warn(UNSAFE_NO_IOMMU_WARNING);
  const machine = new Machine({ ...defaultMachineSpec({ guestInit: true }), defaultDomain: "identity" });
  const system = new EmulatedUioSystem(machine);
  const sysfs = system.sysfs;
  t.out("  The machine boots again with iommu=pt: a device on a host driver gets an identity domain.");
  await sysfs.write(`bus/pci/devices/${EDU}/driver/unbind`, EDU);
  await sysfs.write(`bus/pci/devices/${EDU}/driver_override`, "uio_pci_generic");
  await sysfs.write("bus/pci/drivers_probe", EDU);
  const uio = (await sysfs.list(`bus/pci/devices/${EDU}/uio`))?.[0];
  t.call(`bind ${EDU} to uio_pci_generic`, `/dev/${uio}; group type ${(await sysfs.read(`bus/pci/devices/${EDU}/iommu_group/type`))?.trim()}`);
  const opened = await openUioDevice(system, EDU, { unsafeNoIommu: true });
  try {
    // The same driver as under VFIO, over the UIO backend's device and DMA space (polling:
    // the demo routes no interrupt here).
    const edu = await EduDriver.open(opened.device, opened.dma, { completion: "poll" });
    try {
      t.call("EduDriver.open(device, dma)", `buffer at IOVA ${hex(edu.bufferIova)} = its physical address (/proc/self/pagemap)`);
      const before = machine.physicalMemory.peek(SOMEONE_ELSES, STRAY_LENGTH);
      await edu.demonstrateIommu(SOMEONE_ELSES, STRAY_LENGTH);
      // The driver cannot see where a stray write went; the machine can.
      const after = machine.physicalMemory.peek(SOMEONE_ELSES, STRAY_LENGTH);
      const changed = after.filter((b, i) => b !== before[i]).length;
      t.call(`edu.demonstrateIommu(${hex(SOMEONE_ELSES)}): not the process's memory`, changed > 0 ? t.style.red(`landed: ${changed} of ${STRAY_LENGTH} bytes there changed`) : "nothing changed");
      t.out(`  IOMMU faults recorded: ${machine.faults.length}. Under VFIO the IOMMU stopped this (step 9); on UIO nothing can.`);
    } finally {
      await edu.close();
    }
  } finally {
    await opened.close();
  }
}
