/**
 * Opening a PCI function on UIO (bound to uio_pci_generic: /sys/bus/pci/devices/X/uio/uioN)
 * or as the plain userspace driver (registers by mmap of sysfs resourceN, interrupts by
 * polling, no DMA), behind the explicit opt-in (opt-in.ts).
 */
import type { DmaSpace } from "../api/dma-space.js";
import type { UioSystem } from "../api/uio-system.js";
import { VfioUsageError } from "../api/errors.js";
import { parseBdf, formatBdf } from "../api/pci-address.js";
import { UioDevice, type UioMode } from "./device.js";
import { NoDmaSpace, UioDmaSpace, type UioDmaSpaceOptions } from "./dma-space.js";
import { requireUnsafeOptIn, type UnsafeOptIn } from "./opt-in.js";
import { parseResources } from "./resources.js";

export const UIO_DRIVER = "uio_pci_generic";
/** Drivers that leave a device's BARs alone, so the plain userspace driver may use them. */
const PLAIN_OK = new Set([undefined, "pci-stub", UIO_DRIVER]);

export interface OpenUioOptions extends UnsafeOptIn {
  /** "uio" (default): INTx and DMA through uio_pci_generic; "plain": registers only. */
  readonly mode?: UioMode;
  readonly dma?: UioDmaSpaceOptions;
}

export interface OpenedUioDevice extends AsyncDisposable {
  readonly device: UioDevice;
  /** UIO: pinned memory at physical addresses. Plain: rejects every allocation (ENOTSUP). */
  readonly dma: DmaSpace;
  readonly mode: UioMode;
  /** /dev/uioN's N, in "uio" mode. */
  readonly uio: number | undefined;
  /** Frees DMA buffers, then closes the device. Idempotent. */
  close(): Promise<void>;
}

/** The uioN of a device bound to uio_pci_generic, from /sys/bus/pci/devices/X/uio. */
export async function uioNumberOf(system: UioSystem, name: string): Promise<number | undefined> {
  const entries = await system.sysfs.list(`bus/pci/devices/${name}/uio`);
  const entry = entries?.find((e) => /^uio\d+$/.test(e));
  return entry === undefined ? undefined : Number(entry.slice(3));
}

/**
 * Opens `name` on `system`. Demands `{ unsafeNoIommu: true }`.
 * @example
 * await using opened = await openUioDevice(new LinuxUioSystem(), "0000:00:03.0", { unsafeNoIommu: true });
 * await using edu = await EduDriver.open(opened.device, opened.dma, { completion: "intx" });
 */
export async function openUioDevice(system: UioSystem, address: string, options: OpenUioOptions = {}): Promise<OpenedUioDevice> {
  const mode = options.mode ?? "uio";
  requireUnsafeOptIn(options, mode === "uio" ? "UIO" : "the plain userspace driver");
  const bdf = parseBdf(address);
  if (!bdf) throw new VfioUsageError(`"${address}" is not a PCI address (addresses look like 0000:00:03.0)`);
  const name = formatBdf(bdf);
  const dir = `bus/pci/devices/${name}`;
  const resourceText = await system.sysfs.read(`${dir}/resource`);
  if (resourceText === undefined) throw new VfioUsageError(`no PCI device ${name} in ${system.sysfs.description}`, "ENOENT");
  const driver = (await system.sysfs.readlink(`${dir}/driver`))?.split("/").pop();
  let uio: number | undefined;
  if (mode === "uio") {
    if (driver !== UIO_DRIVER) {
      throw new VfioUsageError(
        `${name} is ${driver ? `bound to ${driver}` : "bound to no driver"}, not ${UIO_DRIVER}: run vfio bind ${name} --driver ${UIO_DRIVER} --unsafe-no-iommu`,
        "ENODEV",
      );
    }
    uio = await uioNumberOf(system, name);
    if (uio === undefined) throw new VfioUsageError(`${name} is bound to ${UIO_DRIVER} but has no ${dir}/uio/uioN (is the uio module loaded?)`, "ENODEV");
  } else if (!PLAIN_OK.has(driver)) {
    throw new VfioUsageError(`${name} is bound to ${driver}, which owns its registers: unbind it (or bind pci-stub) before driving it from userspace`, "EBUSY");
  }
  const resources = parseResources(resourceText, name);
  const irq = Number((await system.sysfs.read(`${dir}/irq`))?.trim() ?? "0");
  const canReset = (await system.sysfs.read(`${dir}/reset_method`)) !== undefined || (await system.sysfs.list(dir))?.includes("reset") === true;
  const config = system.openConfig(name);
  let events;
  try {
    // Beyond the header only root sees config space (pci_read_config: 64 bytes otherwise).
    const configSize = config.read(0, 4096).byteLength;
    events = mode === "uio" && irq > 0 ? system.openUio(uio!) : undefined;
    const device = new UioDevice({ system, name, mode, resources, config, configSize, events, canReset });
    const dma: DmaSpace & { close?(): Promise<void> } = mode === "uio" ? new UioDmaSpace(system, options.dma) : new NoDmaSpace();
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        try {
          await dma.close?.();
        } finally {
          await device.close();
        }
      })());
    return { device, dma, mode, uio, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    events?.close();
    config.close();
    throw error;
  }
}
