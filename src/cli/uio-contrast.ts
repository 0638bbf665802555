/**
 * The last part of `vfio demo`: the same stray DMA that the IOMMU blocked under VFIO, on UIO.
 * The emulated machine boots again with iommu=pt (groups on host drivers get an identity
 * domain: the IOMMU does not translate for them), the edu moves to uio_pci_generic, and the
 * UIO backend (uio/) drives it: the device reaches memory by physical address, and a write
 * to memory the process never gave it lands there.
 */
import { defaultMachineSpec } from "../emu/default-machine.js";
import { Machine } from "../emu/machine.js";
import { EmulatedUioSystem } from "../emu/uio/system.js";
import { openUioDevice } from "../uio/open.js";
import { UNSAFE_NO_IOMMU_WARNING } from "../uio/opt-in.js";
import { hex } from "./format.js";
import type { Style } from "./style.js";

const EDU = "0000:00:03.0";
const EDU_BUFFER = 0x4_0000n;
/** Physical memory the process never allocated: the kernel's, on a real machine. */
const SOMEONE_ELSES = 0x10_0000n;

export interface TourOutput {
  out(line?: string): void;
  step(title: string): void;
  call(text: string, result: string): void;
  warn(line: string): void;
  readonly style: Style;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`demo: ${what} did not complete`);
    await new Promise((r) => setImmediate(r));
  }
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
    const command = (await opened.device.read(7, 4n, 2))[0]! | 0x6;
    await opened.device.write(7, 4n, Uint8Array.of(command, 0));
    const bar0 = await opened.device.mapRegion(0);
    const buffer = await opened.dma.allocate(4096, { limit: 1n << 28n });
    t.call("pinned page; /proc/self/pagemap", `IOVA = physical address ${hex(buffer.iova)}`);
    const dma = async (src: bigint, dst: bigint, count: number, toRam: boolean): Promise<void> => {
      bar0.write64(0x80, src);
      bar0.write64(0x88, dst);
      bar0.write64(0x90, BigInt(count));
      bar0.write32(0x98, 1 | (toRam ? 2 : 0));
      await until(() => (bar0.read32(0x98) & 1) === 0, "DMA");
    };
    const text = new TextEncoder().encode("written by a device nobody restrained");
    buffer.bytes.set(text);
    await dma(buffer.iova, EDU_BUFFER, text.length, false);
    const before = machine.physicalMemory.peek(SOMEONE_ELSES, text.length);
    await dma(EDU_BUFFER, SOMEONE_ELSES, text.length, true);
    const after = machine.physicalMemory.peek(SOMEONE_ELSES, text.length);
    const changed = after.some((b, i) => b !== before[i]);
    t.call(`edu DMA device buffer → physical ${hex(SOMEONE_ELSES)} (not the process's)`, changed ? t.style.red(`landed: "${new TextDecoder().decode(after)}"`) : "nothing changed");
    t.out(`  IOMMU faults recorded: ${machine.faults.length}. Under VFIO the IOMMU stopped this (step 9); on UIO nothing can.`);
    bar0.unmap();
  } finally {
    await opened.close();
  }
}
