/**
 * The emulated machine set up for UIO tests: the test guest's topology booted with iommu=pt
 * (defaultDomain "identity") or without it, and an edu moved to uio_pci_generic through sysfs
 * as an administrator would (unbind, driver_override, drivers_probe).
 */
import { Machine } from "../../src/emu/machine.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { EmulatedUioSystem, type EmulatedUioOptions } from "../../src/emu/uio/system.js";
import { renderSysfs } from "../../src/emu/sysfs/emulated-sysfs.js";

export const EDU = "0000:00:03.0";
export const EDU2 = "0000:02:00.0";

export async function uioMachine(options: { defaultDomain?: "DMA-FQ" | "identity"; driver?: string } & EmulatedUioOptions = {}): Promise<{ machine: Machine; system: EmulatedUioSystem }> {
  const machine = new Machine({ ...defaultMachineSpec({ guestInit: true }), defaultDomain: options.defaultDomain ?? "identity" });
  const sysfs = renderSysfs(machine);
  await sysfs.write(`bus/pci/devices/${EDU}/driver/unbind`, EDU);
  const driver = options.driver ?? "uio_pci_generic";
  if (driver !== "none") {
    await sysfs.write(`bus/pci/devices/${EDU}/driver_override`, driver);
    await sysfs.write("bus/pci/drivers_probe", EDU);
  }
  return { machine, system: new EmulatedUioSystem(machine, options) };
}
