/**
 * `vfio info <device>`: lspci for VFIO. Opens the device through VFIO (container, group, IOMMU,
 * device fd) and prints what the device fd says: device flags, every region (index, name, size,
 * offset, flags, capabilities) and every IRQ index (count, flags); `--json` for machines.
 * `--socket PATH` describes a device served over vfio-user the same way, through the same report.
 */
import type { DeviceInfo, IrqInfo, RegionCap, RegionInfo } from "../../api/device-info.js";
import {
  VFIO_DEVICE_FLAGS_AMBA, VFIO_DEVICE_FLAGS_AP, VFIO_DEVICE_FLAGS_CAPS, VFIO_DEVICE_FLAGS_CCW, VFIO_DEVICE_FLAGS_CDX,
  VFIO_DEVICE_FLAGS_FSL_MC, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PLATFORM, VFIO_DEVICE_FLAGS_RESET,
  VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE,
  VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_PCI_CONFIG_REGION_INDEX,
} from "../../api/constants.js";
import { VfioProtocolError, VfioSystemError, isVfioError } from "../../api/errors.js";
import { openDevice } from "../../api/open-device.js";
import type { VfioSystem } from "../../api/vfio-system.js";
import type { VfioDevice } from "../../api/device.js";
import { KernelSystem } from "../../kernel/system.js";
import { VfioUserClient } from "../../user/client.js";
import { parsePciAddress } from "../../api/pci-address.js";
import type { Command, CommandIo } from "../command.js";
import { emulatedSystem } from "../emulated.js";
import { parseCommandArgs, parseTimeout, usageError } from "../parse-args.js";
import { asSocketError, checkConnectSocketPath } from "../socket-path.js";
import { formatBytes, hex, hexDigits } from "../format.js";
import { formatTable, terminalWidth } from "../style.js";

const PCI_REGION_NAMES = ["BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA"];
const PCI_IRQ_NAMES = ["INTx", "MSI", "MSI-X", "ERR", "REQ"];

function flagNames(flags: number, names: readonly (readonly [number, string])[]): string[] {
  const out = names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  const known = names.reduce((all, [bit]) => all | bit, 0);
  if ((flags & ~known) !== 0) out.push(hex(flags & ~known));
  return out;
}

const DEVICE_FLAGS = [
  [VFIO_DEVICE_FLAGS_RESET, "reset"], [VFIO_DEVICE_FLAGS_PCI, "pci"], [VFIO_DEVICE_FLAGS_PLATFORM, "platform"],
  [VFIO_DEVICE_FLAGS_AMBA, "amba"], [VFIO_DEVICE_FLAGS_CCW, "ccw"], [VFIO_DEVICE_FLAGS_AP, "ap"],
  [VFIO_DEVICE_FLAGS_FSL_MC, "fsl-mc"], [VFIO_DEVICE_FLAGS_CAPS, "caps"], [VFIO_DEVICE_FLAGS_CDX, "cdx"],
] as const;
const REGION_FLAGS = [
  [VFIO_REGION_INFO_FLAG_READ, "read"], [VFIO_REGION_INFO_FLAG_WRITE, "write"],
  [VFIO_REGION_INFO_FLAG_MMAP, "mmap"], [VFIO_REGION_INFO_FLAG_CAPS, "caps"],
] as const;
const IRQ_FLAGS = [
  [VFIO_IRQ_INFO_EVENTFD, "eventfd"], [VFIO_IRQ_INFO_MASKABLE, "maskable"],
  [VFIO_IRQ_INFO_AUTOMASKED, "automasked"], [VFIO_IRQ_INFO_NORESIZE, "noresize"],
] as const;

/** What `vfio info` found, as data (the --json output). */
export interface DeviceReport {
  readonly device: string;
  /** How the device was reached: "vfio" (a group of this host) or "vfio-user 0.2 (capabilities…)". */
  readonly via: string;
  /** The IOMMU group and model; absent over vfio-user, which has neither. */
  readonly group?: number;
  readonly iommu?: "type1v2" | "type1" | string;
  /** From config space (region 7), for a PCI device. */
  readonly identity?: { readonly vendorId: string; readonly deviceId: string; readonly classCode: string; readonly revision: string };
  readonly flags: number;
  readonly flagNames: readonly string[];
  readonly regions: readonly RegionReport[];
  readonly irqs: readonly IrqReport[];
}
/** One region index of the report; `error` instead of the fields when the device gave no info. */
export interface RegionReport {
  readonly index: number;
  readonly name: string;
  /** Hex strings: 64-bit values do not fit JSON numbers. */
  readonly size?: string;
  readonly offset?: string;
  readonly flags?: number;
  readonly flagNames?: readonly string[];
  readonly caps?: readonly string[];
  /** The errno code when the kernel gave no info for this index (e.g. VGA on a non-VGA device). */
  readonly error?: string;
}
/** One IRQ index of the report; `error` instead of the fields when the device gave no info. */
export interface IrqReport {
  readonly index: number;
  readonly name: string;
  readonly count?: number;
  readonly flags?: number;
  readonly flagNames?: readonly string[];
  readonly error?: string;
}

/** One capability in words: "sparse-mmap [0x0+0x2000, 0x3000+0x1000]". */
export function describeCap(cap: RegionCap): string {
  switch (cap.kind) {
    case "sparse-mmap":
      return `sparse-mmap [${cap.areas.map((a) => `${hex(a.offset)}+${hex(a.size)}`).join(", ")}]`;
    case "type":
      return `type ${hex(BigInt(cap.type))}/${hex(BigInt(cap.subtype))}`;
    case "msix-mappable":
      return "msix-mappable";
    case "unknown":
      return `cap ${cap.id} v${cap.version}`;
  }
}

function regionReport(index: number, pci: boolean, result: RegionInfo | Error): RegionReport {
  const name = pci && index < PCI_REGION_NAMES.length ? PCI_REGION_NAMES[index]! : `region${index}`;
  if (result instanceof Error) return { index, name, error: isVfioError(result) ? result.code : result.message };
  return {
    index, name, size: hex(result.size), offset: hex(result.offset), flags: result.flags,
    flagNames: flagNames(result.flags, REGION_FLAGS), caps: result.caps.map(describeCap),
  };
}

function irqReport(index: number, pci: boolean, result: IrqInfo | Error): IrqReport {
  const name = pci && index < PCI_IRQ_NAMES.length ? PCI_IRQ_NAMES[index]! : `irq${index}`;
  if (result instanceof Error) return { index, name, error: isVfioError(result) ? result.code : result.message };
  return { index, name, count: result.count, flags: result.flags, flagNames: flagNames(result.flags, IRQ_FLAGS) };
}

/** Asks an open device, whichever backend reached it, everything the report shows. */
export async function reportDevice(device: VfioDevice, context: Pick<DeviceReport, "device" | "via" | "group" | "iommu">): Promise<DeviceReport> {
  const info: DeviceInfo = await device.info();
  const pci = (info.flags & VFIO_DEVICE_FLAGS_PCI) !== 0;
  const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  const regions: RegionReport[] = [];
  for (let i = 0; i < info.numRegions; i++) regions.push(regionReport(i, pci, await settle(device.regionInfo(i))));
  const irqs: IrqReport[] = [];
  for (let i = 0; i < info.numIrqs; i++) irqs.push(irqReport(i, pci, await settle(device.irqInfo(i))));
  let identity: DeviceReport["identity"];
  if (pci && regions[VFIO_PCI_CONFIG_REGION_INDEX]?.error === undefined) {
    // Vendor, device, revision and class: the first 12 bytes of the type 0 header (PCI Local Bus Spec 3.0 §6.2.1).
    const b = await device.read(VFIO_PCI_CONFIG_REGION_INDEX, 0n, 12).catch(() => undefined);
    if (b) {
      identity = {
        vendorId: hexDigits(b[0]! | (b[1]! << 8), 4), deviceId: hexDigits(b[2]! | (b[3]! << 8), 4),
        revision: hexDigits(b[8]!, 2), classCode: hexDigits(b[9]! | (b[10]! << 8) | (b[11]! << 16), 6),
      };
    }
  }
  return { ...context, ...(identity ? { identity } : {}), flags: info.flags, flagNames: flagNames(info.flags, DEVICE_FLAGS), regions, irqs };
}

/** Opens `name` on `system` through its group and gathers the report; everything is closed again. */
export async function inspectDevice(system: VfioSystem, name: string, group?: number): Promise<DeviceReport> {
  await using opened = await openDevice(system, name, group === undefined ? {} : { group });
  // await before returning: `await using` closes the device when this function returns.
  return await reportDevice(opened.device, {
    device: name,
    via: "vfio",
    group: (opened.group as { id: number }).id,
    iommu: opened.iommu === VFIO_TYPE1v2_IOMMU ? "type1v2" : opened.iommu === VFIO_TYPE1_IOMMU ? "type1" : String(opened.iommu),
  });
}

/**
 * Connects to a vfio-user server at `socket` and gathers the report; the connection is closed
 * again. A path that is no socket, or where nothing listens, rejects with one clear line.
 */
export async function inspectSocket(socket: string, fds: boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<DeviceReport> {
  await checkConnectSocketPath(socket);
  const client = await VfioUserClient.connect(socket, { fds, versionTimeoutMs: timeoutMs }).catch((error: unknown) => {
    // The handshake's own verdicts (no reply in time, not a vfio-user server) say it all.
    if (error instanceof VfioProtocolError || (error instanceof VfioSystemError && error.op === "VFIO_USER_VERSION")) throw error;
    throw asSocketError("connect", socket, error);
  });
  try {
    const caps = client.serverCaps;
    const via = `vfio-user 0.${client.minor} (max_msg_fds ${caps.maxMsgFds}, max_data_xfer_size ${caps.maxDataXferSize}, ` +
      `max_dma_maps ${caps.maxDmaMaps}${caps.writeMultiple ? ", write_multiple" : ""}${client.twinSocket ? ", twin socket" : ""})`;
    return await reportDevice(client, { device: socket, via });
  } finally {
    await client.close();
  }
}

/** How long `vfio info --socket` waits for the server's VERSION reply by default. */
const DEFAULT_TIMEOUT_MS = 5000;

/** formatTable, indented two spaces under its heading. */
function table(rows: readonly (readonly string[])[], width: number | undefined): string {
  return formatTable(rows.map(([first, ...rest]) => [`  ${first ?? ""}`, ...rest]), width);
}

/** The human-readable report. */
export function renderReport(report: DeviceReport, width?: number): string {
  const lines = [
    report.group === undefined
      ? `${report.device}: ${report.via}, flags ${report.flagNames.join(" ") || "none"} (${hex(report.flags)})`
      : `${report.device}: group ${report.group}, IOMMU ${report.iommu}, flags ${report.flagNames.join(" ") || "none"} (${hex(report.flags)})`,
    ...(report.identity
      ? [`PCI ${report.identity.vendorId}:${report.identity.deviceId}, class ${report.identity.classCode}, revision ${report.identity.revision}`]
      : []),
    "",
    `regions (${report.regions.length}):`,
    table([
      ["index", "name", "size", "offset", "flags", "caps"],
      ...report.regions.map((r) =>
        r.error !== undefined
          ? [String(r.index), r.name, "-", "-", `(${r.error})`, ""]
          : [String(r.index), r.name, formatBytes(BigInt(r.size!)), r.offset!, r.flagNames!.join(",") || "-", r.caps!.join("; ") || "-"]),
    ], width),
    "",
    `irqs (${report.irqs.length}):`,
    table([
      ["index", "name", "count", "flags"],
      ...report.irqs.map((i) =>
        i.error !== undefined ? [String(i.index), i.name, "-", `(${i.error})`] : [String(i.index), i.name, String(i.count), i.flagNames!.join(",") || "-"]),
    ], width),
    "",
  ];
  return lines.join("\n");
}

const USAGE = `usage: vfio info <device> [--emulated] [--json] [--group N]
       vfio info --socket PATH [--json] [--no-fds] [--timeout MS]

Opens <device> (a PCI address such as 0000:00:03.0 or 00:03.0, bound to vfio-pci) through
VFIO and prints the device fd's view of it: device flags, PCI identity, every region (index,
name, size, offset, flags, capabilities) and every IRQ index (count, flags). Needs access to
/dev/vfio.
With --socket, describes the device a vfio-user server serves on that UNIX socket instead.

  --json         print the report as JSON (64-bit values as hex strings)
  --emulated     inspect a device of the built-in emulated machine (try 0000:00:03.0)
  --group N      the IOMMU group, when sysfs cannot tell it
  --socket PATH  a vfio-user server's socket
  --no-fds       over vfio-user, pass no file descriptors (message-based paths only)
  --timeout MS   over vfio-user, how long to wait for the server's answer (default ${DEFAULT_TIMEOUT_MS})
`;

/** The command, over a given system (tests pass a scripted one). */
export function infoCommand(makeSystem: () => VfioSystem & { close?(): Promise<void> } = () => new KernelSystem()): Command {
  return {
    name: "info",
    summary: "show a device's regions and IRQs as VFIO reports them (lspci for VFIO)",
    usage: USAGE,
    async run(args: readonly string[], io: CommandIo): Promise<number> {
      const { values, positionals } = parseCommandArgs("info", args, {
        json: { type: "boolean" }, group: { type: "string" }, socket: { type: "string" }, "no-fds": { type: "boolean" },
        emulated: { type: "boolean" }, timeout: { type: "string" },
      });
      const json = values.json === true;
      const { socket } = values;
      if (socket !== undefined) {
        if (socket === "") throw usageError("info", "--socket needs the path of a vfio-user server's socket");
        if (positionals.length > 0) throw usageError("info", "give a device address or --socket PATH, not both");
        if (values.group !== undefined) throw usageError("info", "--group is for a device address, not --socket");
        const report = await inspectSocket(socket, values["no-fds"] !== true, parseTimeout("info", values.timeout));
        io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, terminalWidth(io)));
        return 0;
      }
      if (values["no-fds"]) throw usageError("info", "--no-fds goes with --socket PATH only");
      if (values.timeout !== undefined) throw usageError("info", "--timeout goes with --socket PATH only");
      if (values.group !== undefined && !/^\d+$/.test(values.group)) throw usageError("info", `--group needs a group number, not '${values.group}'`);
      const group = values.group === undefined ? undefined : Number(values.group);
      if (positionals.length !== 1) throw usageError("info", "give exactly one device address (e.g. vfio info 0000:00:03.0)");
      const name = parsePciAddress(positionals[0]!);
      // --emulated: the built-in machine, bound as the test guest's /init leaves it.
      const system = values.emulated === true ? emulatedSystem() : makeSystem();
      try {
        const report = await inspectDevice(system, name, group);
        io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, terminalWidth(io)));
        return 0;
      } finally {
        await system.close?.();
      }
    },
  };
}
