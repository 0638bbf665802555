/**
 * `vfio demo`: a tour of VFIO on the built-in emulated machine (the test guest's topology,
 * answering as Linux 6.1 does). Every step is a real call through the api/ VfioSystem that
 * also drives Linux; the tour prints what it does and what the (emulated) kernel answers:
 * the IOMMU groups read from the machine's sysfs as `vfio ls` reads them, and the one that is
 * not viable; binding a device to vfio-pci through sysfs; the container/group/device set-up
 * and a DMA mapping in raw VFIO calls; then the device driven as a user would drive it, through
 * the edu driver (src/drivers/edu.ts): factorial, DMA both ways, an MSI, and a DMA to an
 * unmapped IOVA that the IOMMU blocks, with the fault it records.
 * Then the contrast: the same stray DMA on UIO (uio-contrast.ts), landing in memory.
 */
import {
  PCI_COMMAND, PCI_COMMAND_MASTER, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_TYPE1v2_IOMMU,
} from "../../api/constants.js";
import { ContainerDmaSpace } from "../../api/container-dma-space.js";
import { isVfioError } from "../../api/errors.js";
import type { RegionMapping } from "../../api/device.js";
import { EduDriver } from "../../drivers/edu.js";
import { defaultMachineSpec } from "../../emu/default-machine.js";
import { emulatedHostEnvironment } from "../../emu/host-environment.js";
import { Machine } from "../../emu/machine.js";
import { EmulatedSystem } from "../../emu/system.js";
import { readInventory } from "../../host/inventory.js";
import type { Command, CommandIo } from "../command.js";
import { deviceIds } from "../describe-device.js";
import { hex } from "../format.js";
import { parseCommandArgs } from "../parse-args.js";
import { styleFor } from "../style.js";
import { uioContrast } from "../uio-contrast.js";

const EDU = "0000:00:03.0";
const NOT_VIABLE_EDU = "0000:01:01.0";
const IOVA = 0x10_0000n;
const UNMAPPED_IOVA = 0x80_0000n;

function flagsText(flags: number): string {
  const names = [];
  if (flags & VFIO_GROUP_FLAGS_VIABLE) names.push("VIABLE");
  if (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) names.push("CONTAINER_SET");
  return names.length ? names.join("|") : "0 (not viable)";
}

async function tour(io: CommandIo): Promise<void> {
  const style = styleFor(io);
  const out = (line = "") => io.stdout.write(`${line}\n`);
  const step = (title: string) => out(`\n${style.bold(title)}`);
  const call = (text: string, result: string) => out(`  ${text.padEnd(58)} → ${result}`);

  const machine = new Machine(defaultMachineSpec());
  const system = new EmulatedSystem(machine);
  const sysfs = system.sysfs;
  out(style.bold("vfio demo: VFIO on the emulated machine"));
  out(`${system.description}.`);
  out("Every call below goes through the same API that drives Linux; the answers are Linux 6.1's.");

  step("1. IOMMU groups (from sysfs, as vfio ls reads them)");
  // The machine's sysfs, read by host/'s inventory: /sys/kernel/iommu_groups, bus/pci/devices.
  const inventory = await readInventory(emulatedHostEnvironment(machine));
  for (const { group, viability, devices } of inventory.groups) {
    const members = devices.map((d) => `${d.address} ${deviceIds(d)}${d.driver ? ` [${d.driver}]` : ""}`);
    const viable = viability.viable ? style.green("viable") : style.red("not viable");
    out(`  group ${group.id}  ${viable.padEnd(10)}  ${members.join(", ")}`);
  }
  for (const { group, viability } of inventory.groups.filter((g) => !g.viability.viable)) {
    const who = viability.blockers.map((b) => `${b.name} is bound to ${b.driver}`).join(", ");
    out(`  Group ${group.id} is not viable: ${who}, a driver that claims kernel DMA.`);
  }
  out("  Group 2 is one group because the devices behind a conventional PCI bridge share its");
  out("  requester ID: the edu (1234:11e8) at 01:01.0 goes wherever the e1000 (8086:100e) goes.");

  step("2. Bind the edu at 00:03.0 to vfio-pci through sysfs");
  await sysfs.write(`bus/pci/devices/${EDU}/driver_override`, "vfio-pci");
  out(`  echo vfio-pci > /sys/bus/pci/devices/${EDU}/driver_override`);
  await sysfs.write("bus/pci/drivers_probe", EDU);
  out(`  echo ${EDU} > /sys/bus/pci/drivers_probe`);
  const driver = (await sysfs.readlink(`bus/pci/devices/${EDU}/driver`))?.split("/").pop();
  const groupId = Number((await sysfs.readlink(`bus/pci/devices/${EDU}/iommu_group`))!.split("/").pop());
  out(`  driver: ${driver}; IOMMU group ${groupId}; /dev/vfio/${groupId} now exists`);
  await sysfs.write(`bus/pci/devices/${NOT_VIABLE_EDU}/driver_override`, "vfio-pci");
  await sysfs.write("bus/pci/drivers_probe", NOT_VIABLE_EDU);
  out(`  (and the same for the edu at ${NOT_VIABLE_EDU}, so that /dev/vfio/2 exists too)`);

  step("3. Container and groups");
  const container = await system.openContainer();
  call("open(/dev/vfio/vfio); VFIO_GET_API_VERSION", String(await container.apiVersion()));
  call("VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)", String(await container.checkExtension(VFIO_TYPE1v2_IOMMU)));
  const blocked = await system.openGroup(2);
  call("open(/dev/vfio/2); VFIO_GROUP_GET_STATUS", flagsText(await blocked.status()));
  try {
    await blocked.setContainer(container);
    call("VFIO_GROUP_SET_CONTAINER(group 2)", "ok");
  } catch (error) {
    call("VFIO_GROUP_SET_CONTAINER(group 2)", style.red(isVfioError(error) ? error.code : String(error)));
    if (isVfioError(error) && "hint" in error && error.hint) out(`    ${error.hint}`);
  }
  await blocked.close();
  const group = await system.openGroup(groupId);
  call(`open(/dev/vfio/${groupId}); VFIO_GROUP_GET_STATUS`, flagsText(await group.status()));
  await group.setContainer(container);
  call(`VFIO_GROUP_SET_CONTAINER(group ${groupId})`, "ok");
  await container.setIommu(VFIO_TYPE1v2_IOMMU);
  call("VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)", "ok");
  const info = await container.iommuInfo();
  const sizes = [12n, 21n, 30n].filter((b) => info.iovaPgsizes & (1n << b)).map((b) => (b === 12n ? "4K" : b === 21n ? "2M" : "1G"));
  call("VFIO_IOMMU_GET_INFO", `page sizes ${sizes.join(", ")}; ${info.dmaAvailable} mappings available`);
  for (const r of info.iovaRanges ?? []) out(`    valid IOVAs ${hex(r.start, 9)}-${hex(r.end, 9)}`);
  out("    (the hole is the interrupt window 0xfee00000-0xfeefffff: MSIs, not memory)");

  step("4. The device");
  const device = await group.openDevice(EDU);
  const dinfo = await device.info();
  call(`VFIO_GROUP_GET_DEVICE_FD("${EDU}")`, `flags ${hex(dinfo.flags)}, ${dinfo.numRegions} regions, ${dinfo.numIrqs} IRQ indexes`);
  const bar0Info = await device.regionInfo(0);
  call("VFIO_DEVICE_GET_REGION_INFO(BAR0)", `${Number(bar0Info.size) >> 20} MiB, mmap-able`);
  const bar0: RegionMapping = await device.mapRegion(0);
  call("mmap(BAR0); read32(0x00) identification", hex(bar0.read32(0x00), 8));
  const cfg = await device.read(VFIO_PCI_CONFIG_REGION_INDEX, BigInt(PCI_COMMAND), 2);
  const command = cfg[0]! | (cfg[1]! << 8) | PCI_COMMAND_MASTER;
  await device.write(VFIO_PCI_CONFIG_REGION_INDEX, BigInt(PCI_COMMAND), Uint8Array.of(command & 0xff, command >> 8));
  call("config region: PCI_COMMAND |= Bus Master", hex(command, 4));

  step("5. DMA mapping");
  const memory = system.allocateMemory(2 * 4096);
  await container.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: memory.vaddr, iova: IOVA, size: 8192n });
  call(`VFIO_IOMMU_MAP_DMA vaddr ${hex(memory.vaddr)}`, `IOVA ${hex(IOVA)}-${hex(IOVA + 8191n)}, read+write`);
  try {
    await container.mapDma({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: memory.vaddr, iova: IOVA + 4096n, size: 4096n });
  } catch (error) {
    call(`VFIO_IOMMU_MAP_DMA again at ${hex(IOVA + 4096n)} (overlap)`, style.red(isVfioError(error) ? error.code : String(error)));
  }
  call("VFIO_IOMMU_UNMAP_DMA", `${await container.unmapDma({ flags: 0, iova: IOVA, size: 8192n })} bytes unmapped`);
  memory.free();

  step("6. The edu driver takes the device (src/drivers/edu.ts, from \"vfio-ts/drivers\")");
  // From here on, the device is driven as a user of the library drives it: through the driver,
  // over a DmaSpace that allocates, maps and unmaps DMA buffers in this container.
  const dma = new ContainerDmaSpace(system, container);
  const edu = await EduDriver.open(device, dma);
  call("EduDriver.open(device, dma)", `edu ${edu.identity.major}.${edu.identity.minor}, completions by ${edu.completion}, buffer at IOVA ${hex(edu.bufferIova)}`);
  out("    (it enabled bus mastering, mapped BAR0, mapped a page for DMA and routed MSI to an eventfd)");
  call("edu.factorial(10)", `10! = ${await edu.factorial(10)}`);

  step("7. DMA both ways, through the IOMMU");
  const text = new TextEncoder().encode("Hello from process memory, via the IOMMU!");
  await edu.dmaToDevice(text);
  call("edu.dmaToDevice(text): IOVA → device buffer", `${text.length} bytes`);
  const back = new TextDecoder().decode(await edu.dmaFromDevice(text.length));
  call("edu.dmaFromDevice(n): device buffer → IOVA", `"${back}"`);

  step("8. An MSI");
  const status = await edu.raiseInterrupt();
  call("edu.raiseInterrupt(): the device raises it", `eventfd signalled, interrupt status ${hex(status)}`);

  step("9. A DMA to an IOVA nobody mapped");
  const demo = await edu.demonstrateIommu(UNMAPPED_IOVA);
  call(`edu.demonstrateIommu(${hex(UNMAPPED_IOVA)})`, demo.blocked ? style.green("blocked: no memory changed") : style.red("memory changed!"));
  for (const f of machine.faults) {
    out(`  DMAR: [DMA ${f.access === "write" ? "Write" : "Read"} NO_PASID] Request device [${f.device.slice(5)}] fault addr ${hex(f.iova)} [fault reason ${hex(f.vtdReason, 2)}] ${f.vtdReasonText}`);
  }

  step("10. Clean up");
  await edu.close();
  call("edu.close()", "interrupt off, buffer unmapped and freed, bus mastering off");
  await dma.close();
  bar0.unmap();
  await device.close();
  await group.close();
  await container.close();
  out("  device, group and container closed; the group is released and viable again.");

  await uioContrast({ out, step, call, warn: (line) => io.stderr.write(`${line}\n`), style }, 11);
  out("");
  out(`Try it on real hardware: 'vfio ls', 'vfio check <device>'; on this machine again: 'vfio ls --emulated'.`);
}

/** `vfio demo`. */
export const demoCommand: Command = {
  name: "demo",
  summary: "a tour of VFIO on the built-in emulated machine (no hardware needed)",
  usage: [
    "usage: vfio demo",
    "",
    "Runs a tour of VFIO on the built-in emulated machine, which answers as Linux 6.1 does:",
    "the IOMMU groups (one not viable, and why), binding a device to vfio-pci, container and",
    "group set-up, DMA mapping, the edu device's factorial, DMA both ways, an MSI, and a DMA",
    "to an unmapped IOVA blocked by the IOMMU with the fault it records; then the same DMA on",
    "UIO (uio_pci_generic, iommu=pt), where it lands in memory. Needs no hardware, no root and",
    "no IOMMU.",
  ].join("\n"),
  async run(args, io) {
    parseCommandArgs("demo", args, {}, { min: 0, max: 0, name: "argument" });
    await tour(io);
    return 0;
  },
};
