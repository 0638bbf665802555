/**
 * The README's example, as a user of the published package writes it: drives the edu device of
 * the built-in emulated machine through VFIO (container, group, type1v2 IOMMU, device fd) with
 * the edu driver. On a real host, `new KernelSystem()` from "vfio-ts/kernel" takes the place of
 * the emulated machine, with an edu bound to vfio-pci.
 *
 * Type-checked against the packed package's types and run by test/package/install.test.ts,
 * with examples/tsconfig.json (ES modules, a target where `await using` compiles).
 */
import { openDevice } from "vfio-ts";
import { EmulatedSystem, defaultMachineSpec } from "vfio-ts/emu";
import { EduDriver } from "vfio-ts/drivers";

const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true })); // its edus on vfio-pci
await using opened = await openDevice(system, "0000:00:03.0");
await using edu = await EduDriver.open(opened.device, opened.dma);
console.log(await edu.factorial(10)); // 3628800
