/**
 * The test bed both backends share: the guest's topology (GUEST notes), with the three edu
 * devices bound to vfio-pci and the e1000 left on its driver, and helpers that set up the
 * usual container/group/device sequence with cleanup registered.
 */
import type { Container, Group } from "../../src/api/container.js";
import type { VfioDevice } from "../../src/api/device.js";
import type { VfioSystem } from "../../src/api/vfio-system.js";
import { VFIO_TYPE1v2_IOMMU } from "../../src/api/constants.js";
import type { ScenarioContext } from "./scenario.js";

/** edu on the root bus: its own group, no reset method. */
export const EDU_ROOT = "0000:00:03.0";
/** edu behind the conventional PCI bridge: shares a group with the bridge and the e1000. */
export const EDU_BRIDGED = "0000:01:01.0";
/** edu behind the PCIe root port with ACS: its own group, bus reset available. */
export const EDU_PORT = "0000:02:00.0";
export const E1000 = "0000:01:02.0";
export const BRIDGE = "0000:00:04.0";
/** QEMU's NVMe: PCI Express, MSI-X with its table in BAR0, FLR. */
export const NVME = "0000:00:06.0";
export const EDU_DEVICES = [EDU_ROOT, EDU_BRIDGED, EDU_PORT] as const;

/** The IOMMU group number of a device, from its iommu_group link. */
export async function groupOf(system: VfioSystem, address: string): Promise<number> {
  const target = await system.sysfs.readlink(`bus/pci/devices/${address}/iommu_group`);
  if (!target) throw new Error(`${address} has no iommu_group link`);
  return Number(target.split("/").pop());
}

/** The driver a device is bound to, or null. */
export async function driverOf(system: VfioSystem, address: string): Promise<string | null> {
  const target = await system.sysfs.readlink(`bus/pci/devices/${address}/driver`);
  return target ? target.split("/").pop()! : null;
}

/** Binds `address` to `driver` through driver_override and drivers_probe, unbinding it first. */
export async function bindTo(system: VfioSystem, address: string, driver: string | null): Promise<void> {
  const current = await driverOf(system, address);
  if (current === driver) return;
  if (current) await system.sysfs.write(`bus/pci/drivers/${current}/unbind`, address);
  await system.sysfs.write(`bus/pci/devices/${address}/driver_override`, driver ?? "\n");
  if (driver) await system.sysfs.write("bus/pci/drivers_probe", address);
}

/** Puts the machine in the suite's starting state: edu devices and the NVMe on vfio-pci, the e1000 on e1000. */
export async function prepare(system: VfioSystem): Promise<void> {
  for (const address of [...EDU_DEVICES, NVME]) await bindTo(system, address, "vfio-pci");
  if ((await driverOf(system, E1000)) !== "e1000") {
    await bindTo(system, E1000, null);
    await system.sysfs.write("bus/pci/drivers_probe", E1000);
  }
}

/** Opens the group of `address`, closed after the scenario. */
export async function openGroupOf(ctx: ScenarioContext, address: string): Promise<Group> {
  const group = await ctx.system.openGroup(await groupOf(ctx.system, address));
  ctx.defer(() => group.close());
  return group;
}

export async function openContainer(ctx: ScenarioContext): Promise<Container> {
  const container = await ctx.system.openContainer();
  ctx.defer(() => container.close());
  return container;
}

/** Container + group of `address` attached + IOMMU set (type1v2 unless given). */
export async function containerWith(ctx: ScenarioContext, address: string, type = VFIO_TYPE1v2_IOMMU): Promise<{ container: Container; group: Group }> {
  const container = await openContainer(ctx);
  const group = await openGroupOf(ctx, address);
  await group.setContainer(container);
  await container.setIommu(type);
  return { container, group };
}

/** The whole sequence up to an open device. */
export async function openDevice(ctx: ScenarioContext, address: string, type = VFIO_TYPE1v2_IOMMU): Promise<{ container: Container; group: Group; device: VfioDevice }> {
  const { container, group } = await containerWith(ctx, address, type);
  const device = await group.openDevice(address);
  ctx.defer(() => device.close());
  return { container, group, device };
}

/** Process memory freed after the scenario. */
export function memory(ctx: ScenarioContext, size: number): { vaddr: bigint; bytes: Uint8Array; size: number } {
  const m = ctx.system.allocateMemory(size);
  ctx.defer(() => m.free());
  return m;
}

/** Little-endian helpers over region reads/writes. */
export async function read32(device: VfioDevice, index: number, offset: number): Promise<number> {
  const b = await device.read(index, BigInt(offset), 4);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}
export async function read16(device: VfioDevice, index: number, offset: number): Promise<number> {
  const b = await device.read(index, BigInt(offset), 2);
  return b[0]! | (b[1]! << 8);
}
export async function read8(device: VfioDevice, index: number, offset: number): Promise<number> {
  return (await device.read(index, BigInt(offset), 1))[0]!;
}
export async function write32(device: VfioDevice, index: number, offset: number, value: number): Promise<void> {
  await device.write(index, BigInt(offset), Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff));
}
export async function write16(device: VfioDevice, index: number, offset: number, value: number): Promise<void> {
  await device.write(index, BigInt(offset), Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
}

/** Polls `check` every few milliseconds until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
}
