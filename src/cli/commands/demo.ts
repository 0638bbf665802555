/**
 * `vfio demo`: a tour of VFIO on the built-in emulated machine (the test guest's topology,
 * answering as Linux 6.1 does). Every step is a real call through the api/ VfioSystem that
 * also drives Linux; the tour prints what it does and what the (emulated) kernel answers:
 * the IOMMU groups and the one that is not viable, binding a device to vfio-pci through
 * sysfs, the container/group/device set-up, a DMA mapping, edu's factorial, DMA both ways, an
 * MSI, and a DMA to an unmapped IOVA that the IOMMU blocks, with the fault it records; then
 * the contrast: the same stray DMA on UIO (uio-contrast.ts), landing in memory.
 */
import {
  PCI_COMMAND, PCI_COMMAND_MASTER, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX, VFIO_TYPE1v2_IOMMU,
} from "../../api/constants.js";
import { isVfioError } from "../../api/errors.js";
import type { RegionMapping } from "../../api/device.js";
import { defaultMachineSpec } from "../../emu/default-machine.js";
import { Machine } from "../../emu/machine.js";
import { EmulatedSystem } from "../../emu/system.js";
import type { Command, CommandIo } from "../command.js";
import { hex } from "../format.js";
import { parseCommandArgs } from "../parse-args.js";
import { styleFor } from "../style.js";
import { uioContrast } from "../uio-contrast.js";

const EDU = "0000:00:03.0";
const NOT_VIABLE_EDU = "0000:01:01.0";
const IOVA = 0x10_0000n;
const UNMAPPED_IOVA = 0x80_0000n;
const EDU_BUFFER = 0x4_0000n;

function flagsText(flags: number): string {
  const names = [];
  if (flags & VFIO_GROUP_FLAGS_VIABLE) names.push("VIABLE");
  if (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) names.push("CONTAINER_SET");
  return names.length ? names.join("|") : "0 (not viable)";
}

/** Polls a condition on the event loop (the edu's DMA and factorial complete asynchronously). */
async function until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`demo: ${what} did not complete`);
    await new Promise((r) => setImmediate(r));
  }
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
  for (const group of machine.groups) {
    const members = group.members.map((f) => `${f.address} ${f.model.name}${f.driver ? ` [${f.driver}]` : ""}`);
    const viable = group.claimed ? style.red("not viable") : style.green("viable");
    out(`  group ${group.id}  ${viable.padEnd(10)}  ${members.join(", ")}`);
  }
  out("  Group 2 is not viable: the bridge's devices share one requester ID (a conventional PCI");
  out("  bridge takes ownership of their DMA), so the edu at 01:01.0 and the e1000 form one group,");
  out("  and the e1000 is bound to its host driver, which uses the kernel's DMA API.");

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

  step("6. edu computes: factorial");
  bar0.write32(0x08, 10);
  await until(() => (bar0.read32(0x20) & 1) === 0, "factorial");
  call("write32(0x08, 10); wait for status bit 0", `10! = ${bar0.read32(0x08)}`);

  step("7. DMA both ways, through the IOMMU");
  const text = new TextEncoder().encode("Hello from process memory, via the IOMMU!");
  memory.bytes.set(text, 0);
  const dma = async (src: bigint, dst: bigint, count: number, toRam: boolean) => {
    bar0.write64(0x80, src);
    bar0.write64(0x88, dst);
    bar0.write64(0x90, BigInt(count));
    bar0.write32(0x98, 1 | (toRam ? 2 : 0));
    await until(() => (bar0.read32(0x98) & 1) === 0, "DMA");
  };
  await dma(IOVA, EDU_BUFFER, text.length, false);
  call(`edu DMA IOVA ${hex(IOVA)} → device buffer`, `${text.length} bytes`);
  await dma(EDU_BUFFER, IOVA + 4096n, text.length, true);
  const back = new TextDecoder().decode(memory.bytes.subarray(4096, 4096 + text.length));
  call(`edu DMA device buffer → IOVA ${hex(IOVA + 4096n)}`, `"${back}"`);

  step("8. An MSI");
  const notifier = device.createNotifier();
  await device.setIrqs({ flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, start: 0, count: 1, notifiers: [notifier] });
  call("VFIO_DEVICE_SET_IRQS(MSI, eventfd)", "ok");
  const arrived = notifier.next();
  bar0.write32(0x60, 0x1);
  call("write32(0x60, 1): edu raises its interrupt", `eventfd signalled (count ${await arrived})`);
  bar0.write32(0x64, 0x1);

  step("9. A DMA to an IOVA nobody mapped");
  memory.bytes.fill(0, 4096);
  await dma(EDU_BUFFER, UNMAPPED_IOVA, text.length, true);
  const untouched = memory.bytes.subarray(4096).every((b) => b === 0);
  call(`edu DMA device buffer → IOVA ${hex(UNMAPPED_IOVA)}`, untouched ? style.green("blocked: no memory changed") : style.red("memory changed!"));
  for (const f of machine.faults) {
    out(`  DMAR: [DMA ${f.access === "write" ? "Write" : "Read"} NO_PASID] Request device [${f.device.slice(5)}] fault addr ${hex(f.iova)} [fault reason ${hex(f.vtdReason, 2)}] ${f.vtdReasonText}`);
  }

  step("10. Clean up");
  bar0.unmap();
  notifier.close();
  call("VFIO_IOMMU_UNMAP_DMA(all)", `${await container.unmapDma({ flags: 2, iova: 0n, size: 0n })} bytes unmapped`);
  await device.close();
  await group.close();
  await container.close();
  memory.free();
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
