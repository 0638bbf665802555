/**
 * What the guest tests share: whether real VFIO is here, the test guest's topology
 * (scripts/guest/README.md), and the edu device's registers (QEMU docs/specs/edu.rst).
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { basename } from "node:path";
import { openDevice, type OpenedDevice } from "../../src/api/open-device.js";
import type { RegionMapping } from "../../src/api/device.js";
import { KernelSystem } from "../../src/kernel/system.js";
import type { KernelContainer } from "../../src/kernel/container.js";
import type { KernelDevice } from "../../src/kernel/device.js";

/** An opened device with the kernel backend's concrete types. */
export type OpenedKernelDevice = Omit<OpenedDevice, "device" | "container"> & {
  readonly device: KernelDevice;
  readonly container: KernelContainer;
  readonly system: KernelSystem;
};

export const inGuest = existsSync("/dev/vfio/vfio");
/** The `skip` option of every guest test. */
export const skip: string | false = inGuest ? false : "no /dev/vfio/vfio: real VFIO runs in the test guest (npm run test:kernel)";

/** edu on the root bus, own group. */
export const EDU = "0000:00:03.0";
/** edu behind a PCIe root port, own group. */
export const EDU2 = "0000:02:00.0";
/** edu behind a conventional bridge, sharing its group with an e1000 bound to e1000: not viable. */
export const EDU_NOT_VIABLE = "0000:01:01.0";
export const E1000 = "0000:01:02.0";
export const NVME = "0000:00:06.0";

/** The IOMMU group of a PCI device. */
export function groupOf(address: string): number {
  return Number(basename(readlinkSync(`/sys/bus/pci/devices/${address}/iommu_group`)));
}

/** edu BAR0 registers (QEMU docs/specs/edu.rst). */
export const edu = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  /** DMA_CMD bits: start, direction (1: edu → RAM), raise an interrupt when done. */
  DMA_START: 1,
  DMA_TO_RAM: 2,
  DMA_IRQ: 4,
  /** The edu's internal DMA buffer, at this device address, 4 KiB. */
  BUFFER: 0x40000n,
  /** edu's DMA mask is 28 bits. */
  DMA_LIMIT: 1n << 28n,
} as const;

/**
 * Puts an edu back in a quiet state: the edu has no reset (VFIO_DEVICE_RESET is EINVAL), so a
 * test that failed half-way can leave an interrupt raised or the factorial-interrupt bit set.
 */
export function quietEdu(bar: RegionMapping): void {
  bar.write32(edu.STATUS, 0);
  bar.write32(edu.IRQ_ACK, bar.read32(edu.IRQ_STATUS));
}

/** Opens a device with a fresh KernelSystem; everything is closed after the test. */
export async function open(t: { after(fn: () => Promise<void> | void): void }, address = EDU): Promise<OpenedKernelDevice> {
  const system = new KernelSystem();
  const opened = await openDevice(system, address, { dma: { limit: edu.DMA_LIMIT } });
  t.after(async () => {
    await opened.close();
    await system.close();
  });
  return Object.assign(opened, { system }) as unknown as OpenedKernelDevice;
}

/** The kernel log (busybox dmesg). */
export function kernelLog(): string {
  try {
    return execFileSync("dmesg", { encoding: "utf8", maxBuffer: 16 << 20 });
  } catch {
    return "";
  }
}

/** Open fds of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Lines of /proc/self/maps (one per mapping), all of them or those matching `only`. */
export function mappingCount(only?: RegExp): number {
  return readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) => line && (!only || only.test(line))).length;
}

/** VmLck in bytes: memory locked by this process (VFIO pins count here). */
export function lockedBytes(): bigint {
  const kb = /VmLck:\s*(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return BigInt(kb ?? 0) * 1024n;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms until true or `timeoutMs` passes; resolves with the last value. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}
