/**
 * Checks made before any sysfs write: each finds something that binding a device away from
 * its driver would break, and names it. The CLI refuses to go on while there are findings,
 * unless --force. Findings are data; the CLI renders them.
 *
 * - a network interface of the device that is up (IFF_UP or operstate), has addresses, or carries routes;
 * - a block device of the device (or a partition of it) that is mounted, used as swap, or held
 *   by another block device (holders/: an active LVM volume, an MD array, dm-crypt);
 * - the boot VGA device (boot_vga, which the firmware framebuffer lives on) or a device with a
 *   registered framebuffer (class/graphics/fb*);
 * - a group already open by a VFIO user (a process holding /dev/vfio/N).
 */
import type { Sysfs } from "../api/sysfs.js";
import { pciPaths } from "./binding-state.js";
import type { HostProbe } from "./host-probe.js";

export type SafetyFinding =
  | { readonly code: "net-up"; readonly device: string; readonly iface: string; readonly message: string }
  | { readonly code: "net-addresses"; readonly device: string; readonly iface: string; readonly addresses: readonly string[]; readonly message: string }
  | { readonly code: "net-routes"; readonly device: string; readonly iface: string; readonly routes: number; readonly message: string }
  | { readonly code: "block-mounted"; readonly device: string; readonly block: string; readonly message: string }
  | { readonly code: "block-swap"; readonly device: string; readonly block: string; readonly message: string }
  | { readonly code: "block-held"; readonly device: string; readonly block: string; readonly holders: readonly string[]; readonly message: string }
  | { readonly code: "boot-vga"; readonly device: string; readonly message: string }
  | { readonly code: "framebuffer"; readonly device: string; readonly framebuffer: string; readonly message: string }
  | { readonly code: "group-open"; readonly group: number; readonly openers: readonly string[]; readonly message: string };

async function checkNetwork(sysfs: Sysfs, probe: HostProbe, device: string): Promise<SafetyFinding[]> {
  const findings: SafetyFinding[] = [];
  for (const iface of (await sysfs.list(`${pciPaths.device(device)}/net`)) ?? []) {
    // Up means administratively up (IFF_UP, 0x1 in include/uapi/linux/if.h, shown in the
    // hex `flags` attribute), whether or not a carrier makes operstate "up" too.
    const flags = Number.parseInt((await sysfs.read(`class/net/${iface}/flags`))?.trim() ?? "0", 16);
    const state = (await sysfs.read(`class/net/${iface}/operstate`))?.trim();
    if ((flags & 0x1) !== 0 || state === "up") {
      findings.push({ code: "net-up", device, iface, message: `${device}: network interface ${iface} is up` });
    }
    const addresses = await probe.interfaceAddresses(iface);
    if (addresses.length > 0) {
      findings.push({ code: "net-addresses", device, iface, addresses, message: `${device}: network interface ${iface} has addresses ${addresses.join(", ")}` });
    }
    const routes = await probe.interfaceRoutes(iface);
    if (routes > 0) findings.push({ code: "net-routes", device, iface, routes, message: `${device}: ${routes} route(s) go through ${iface}` });
  }
  return findings;
}

async function checkBlock(sysfs: Sysfs, probe: HostProbe, device: string): Promise<SafetyFinding[]> {
  const findings: SafetyFinding[] = [];
  const mounted = await probe.mountedDevices();
  const swaps = await probe.swapDevices();
  for (const block of (await sysfs.list("class/block")) ?? []) {
    // class/block/<name> links into the device tree, e.g. ../../devices/pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1.
    const target = await sysfs.readlink(`class/block/${block}`);
    if (target === undefined || !target.split("/").includes(device)) continue;
    const dev = (await sysfs.read(`class/block/${block}/dev`))?.trim();
    if (dev !== undefined && mounted.has(dev)) findings.push({ code: "block-mounted", device, block, message: `${device}: /dev/${block} is mounted` });
    if (swaps.has(block)) findings.push({ code: "block-swap", device, block, message: `${device}: /dev/${block} is in use as swap` });
    const holders = (await sysfs.list(`class/block/${block}/holders`)) ?? [];
    if (holders.length > 0) {
      findings.push({ code: "block-held", device, block, holders, message: `${device}: /dev/${block} is held by ${holders.join(", ")} (LVM, MD or dm)` });
    }
  }
  return findings;
}

async function checkDisplay(sysfs: Sysfs, device: string): Promise<SafetyFinding[]> {
  const findings: SafetyFinding[] = [];
  if ((await sysfs.read(pciPaths.bootVga(device)))?.trim() === "1") {
    findings.push({ code: "boot-vga", device, message: `${device} is the boot VGA device (the firmware framebuffer and console)` });
  }
  for (const fb of (await sysfs.list("class/graphics")) ?? []) {
    const target = await sysfs.readlink(`class/graphics/${fb}/device`);
    if (target !== undefined && target.split("/").includes(device)) {
      findings.push({ code: "framebuffer", device, framebuffer: fb, message: `${device} drives framebuffer ${fb}` });
    }
  }
  return findings;
}

/** Findings for the devices that would leave their driver (their network, storage and display use). */
export async function checkDevices(sysfs: Sysfs, probe: HostProbe, devices: readonly string[]): Promise<SafetyFinding[]> {
  const findings: SafetyFinding[] = [];
  for (const device of devices) {
    findings.push(...(await checkNetwork(sysfs, probe, device)), ...(await checkBlock(sysfs, probe, device)), ...(await checkDisplay(sysfs, device)));
  }
  return findings;
}

/** Findings for groups whose /dev/vfio/N is open: a VFIO user (a VM, a driver) has them. */
export async function checkGroupsClosed(probe: HostProbe, groups: readonly number[], devRoot = "/dev"): Promise<SafetyFinding[]> {
  const findings: SafetyFinding[] = [];
  for (const group of groups) {
    const openers = await probe.openers(`${devRoot}/vfio/${group}`);
    if (openers.length > 0) {
      findings.push({ code: "group-open", group, openers, message: `IOMMU group ${group} is open by ${openers.join(", ")}` });
    }
  }
  return findings;
}
