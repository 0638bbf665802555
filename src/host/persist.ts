/**
 * Keeping a binding across reboots, and undoing that. Two ways, chosen by what the host has:
 *
 * - driverctl installed: one override file per device, /etc/driverctl.d/pci-<address>,
 *   holding the driver name. This is driverctl's own store (its udev rule re-applies the
 *   override when the device appears at boot), so `driverctl list-persisted` shows them and
 *   `driverctl unset-override` would remove them too. Exact: per address.
 * - otherwise: /etc/modprobe.d/vfio-ts.conf with `options vfio-pci ids=VVVV:DDDD,...` and a
 *   `softdep <driver> pre: vfio-pci` per host driver, so vfio-pci loads first and claims the
 *   devices by ID (kmod reads /etc/modprobe.d/*.conf on every distribution), plus the
 *   initramfs configuration that puts vfio-pci into the initramfs, so that it wins even when
 *   the host driver loads from there:
 *     initramfs-tools (Debian, Ubuntu): lines in /etc/initramfs-tools/modules, then update-initramfs -u;
 *     dracut (Fedora, RHEL, openSUSE): /etc/dracut.conf.d/vfio-ts.conf force_drivers, then dracut -f;
 *     mkinitcpio (Arch): /etc/mkinitcpio.conf.d/vfio-ts.conf MODULES, then mkinitcpio -P
 *       (drop-in files are read by recent mkinitcpio releases only; older ones need MODULES in
 *       /etc/mkinitcpio.conf, which vfio-ts does not edit).
 *   By ID means every device with that ID: planPersist refuses when another device with the
 *   same ID would be taken too.
 *
 * What was written is recorded in /etc/vfio-ts/persist.json, so unpersist removes exactly
 * that: files vfio-ts created, lines it added, and nothing it found already there.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { VfioProtocolError, VfioUsageError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { pciPaths, readDriver } from "./binding-state.js";

/** The configuration files persist touches, under a root ("/" or a test directory). */
export interface ConfigFs {
  /** For messages and printed plans: "/" or the test root. */
  readonly root: string;
  read(path: string): Promise<string | undefined>;
  /** Writes a whole file, creating its directory. */
  write(path: string, content: string): Promise<void>;
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

/** ConfigFs over node:fs; `path` arguments are absolute and taken under `root`. */
export function nodeConfigFs(root = "/"): ConfigFs {
  const at = (path: string): string => join(root, path);
  return {
    root,
    async read(path) {
      try {
        return await readFile(at(path), "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async write(path, content) {
      await mkdir(dirname(at(path)), { recursive: true });
      await writeFile(at(path), content);
    },
    async remove(path) {
      await rm(at(path), { force: true });
    },
    async exists(path) {
      return stat(at(path)).then(() => true, () => false);
    },
  };
}

/** One device to persist. */
export interface PersistDevice {
  readonly address: string;
  /** "8086:100e". */
  readonly id: string;
  /** The host driver it had, for the softdep; null when unknown or none. */
  readonly hostDriver: string | null;
}

export type PersistAction =
  | { readonly kind: "create-file"; readonly path: string; readonly content: string; readonly why: string }
  | { readonly kind: "add-lines"; readonly path: string; readonly lines: readonly string[]; readonly why: string }
  | { readonly kind: "run"; readonly argv: readonly string[]; readonly why: string };

export type PersistMethod = "driverctl" | "initramfs-tools" | "dracut" | "mkinitcpio" | "modprobe-only";

export interface PersistPlan {
  readonly method: PersistMethod;
  readonly actions: readonly PersistAction[];
}

/** The record of what persist did, for unpersist. */
export interface PersistRecord {
  readonly version: 1;
  readonly method: PersistMethod;
  readonly created: readonly string[];
  readonly addedLines: readonly { readonly path: string; readonly lines: readonly string[] }[];
  /** The command that rebuilds the initramfs after unpersist, if one is needed. */
  readonly regenerate?: readonly string[];
}

export const PERSIST_RECORD = "/etc/vfio-ts/persist.json";
const MODPROBE_CONF = "/etc/modprobe.d/vfio-ts.conf";
const VFIO_MODULES = ["vfio", "vfio_iommu_type1", "vfio_pci"] as const;

const DRIVERCTL = ["/usr/sbin/driverctl", "/usr/bin/driverctl", "/sbin/driverctl"];
const TOOLS: readonly { method: PersistMethod; paths: readonly string[] }[] = [
  { method: "initramfs-tools", paths: ["/usr/sbin/update-initramfs", "/sbin/update-initramfs"] },
  { method: "dracut", paths: ["/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"] },
  { method: "mkinitcpio", paths: ["/usr/bin/mkinitcpio", "/sbin/mkinitcpio"] },
];

async function anyExists(fs: ConfigFs, paths: readonly string[]): Promise<boolean> {
  for (const path of paths) if (await fs.exists(path)) return true;
  return false;
}

/** Which way this host persists bindings. */
export async function detectPersistMethod(fs: ConfigFs): Promise<PersistMethod> {
  if (await anyExists(fs, DRIVERCTL)) return "driverctl";
  for (const tool of TOOLS) if (await anyExists(fs, tool.paths)) return tool.method;
  return "modprobe-only";
}

/** A device's "vendor:device" from sysfs ("0x8086" + "0x100e" → "8086:100e"). */
export async function readPciId(sysfs: Sysfs, address: string): Promise<string> {
  const vendor = (await sysfs.read(`${pciPaths.device(address)}/vendor`))?.trim();
  const device = (await sysfs.read(`${pciPaths.device(address)}/device`))?.trim();
  if (!vendor || !device || !/^0x[0-9a-f]{4}$/i.test(vendor) || !/^0x[0-9a-f]{4}$/i.test(device)) {
    throw new VfioProtocolError(`${pciPaths.device(address)}: no vendor/device ID`, "vendor");
  }
  return `${vendor.slice(2)}:${device.slice(2)}`.toLowerCase();
}

/**
 * Plans persisting `devices`. With the by-ID method it refuses (VfioUsageError, code
 * ESHAREDID) when another device of the same ID exists that is not being persisted, unless
 * `force`.
 */
export async function planPersist(
  fs: ConfigFs, sysfs: Sysfs, devices: readonly PersistDevice[], options: { readonly force?: boolean } = {},
): Promise<PersistPlan> {
  const method = await detectPersistMethod(fs);
  if (method === "driverctl") {
    return {
      method,
      actions: devices.map((d) => ({
        kind: "create-file", path: `/etc/driverctl.d/pci-${d.address}`, content: "vfio-pci\n",
        why: `driverctl re-applies driver_override vfio-pci to ${d.address} at boot`,
      })),
    };
  }
  // A second `bind --persist` adds to what the first wrote: our own file is merged, not replaced.
  const earlier = (await fs.read(MODPROBE_CONF)) ?? "";
  const earlierIds = /^options vfio-pci ids=(\S+)$/m.exec(earlier)?.[1]?.split(",") ?? [];
  const earlierDrivers = [...earlier.matchAll(/^softdep (\S+) pre: vfio-pci$/gm)].map((m) => m[1]!);
  const ids = [...new Set([...earlierIds, ...devices.map((d) => d.id)])].sort();
  if (!options.force) {
    const mine = new Set(devices.map((d) => d.address));
    const others: string[] = [];
    const newIds = new Set(devices.map((d) => d.id));
    for (const address of (await sysfs.list("bus/pci/devices")) ?? []) {
      if (mine.has(address) || !newIds.has(await readPciId(sysfs, address).catch(() => ""))) continue;
      // One already on vfio-pci (e.g. persisted earlier) stays as it is at boot: no surprise there.
      if ((await readDriver(sysfs, address)) !== "vfio-pci") others.push(address);
    }
    if (others.length > 0) {
      throw new VfioUsageError(
        `without driverctl, persisting works by device ID, and ${others.join(", ")} share an ID with the devices named: vfio-pci would take them at boot too (install driverctl, or --force)`,
        "ESHAREDID",
      );
    }
  }
  const drivers = [...new Set([
    ...earlierDrivers,
    ...devices.map((d) => d.hostDriver).filter((d): d is string => d !== null && d !== "vfio-pci").map((d) => d.replace(/-/g, "_")),
  ])].sort();
  const modprobe = [
    "# Written by vfio-ts (vfio bind --persist); removed by vfio unpersist.",
    `options vfio-pci ids=${ids.join(",")}`,
    // Module names use underscores where driver names may use dashes.
    ...drivers.map((d) => `softdep ${d} pre: vfio-pci`),
    "",
  ].join("\n");
  const actions: PersistAction[] = [
    { kind: "create-file", path: MODPROBE_CONF, content: modprobe, why: "vfio-pci claims these IDs, and loads before their host drivers" },
  ];
  switch (method) {
    case "initramfs-tools":
      actions.push(
        { kind: "add-lines", path: "/etc/initramfs-tools/modules", lines: [...VFIO_MODULES], why: "vfio-pci in the initramfs" },
        { kind: "run", argv: ["update-initramfs", "-u"], why: "rebuild the initramfs" },
      );
      break;
    case "dracut":
      actions.push(
        { kind: "create-file", path: "/etc/dracut.conf.d/vfio-ts.conf", content: `force_drivers+=" ${VFIO_MODULES.join(" ")} "\n`, why: "vfio-pci in the initramfs" },
        { kind: "run", argv: ["dracut", "-f"], why: "rebuild the initramfs" },
      );
      break;
    case "mkinitcpio":
      actions.push(
        { kind: "create-file", path: "/etc/mkinitcpio.conf.d/vfio-ts.conf", content: `MODULES+=(${VFIO_MODULES.join(" ")})\n`, why: "vfio-pci in the initramfs" },
        { kind: "run", argv: ["mkinitcpio", "-P"], why: "rebuild the initramfs" },
      );
      break;
    default:
      break;
  }
  return { method, actions };
}

/** One line per action, as --dry-run prints it. */
export function formatPersistAction(action: PersistAction, root = "/"): string {
  const shown = (path: string): string => (root === "/" ? path : join(root, path));
  switch (action.kind) {
    case "create-file":
      return `write ${shown(action.path)}: ${JSON.stringify(action.content)}    # ${action.why}`;
    case "add-lines":
      return `append to ${shown(action.path)}: ${action.lines.join(", ")}    # ${action.why}`;
    case "run":
      return `run ${action.argv.join(" ")}    # ${action.why}`;
  }
}

async function readRecord(fs: ConfigFs): Promise<PersistRecord | undefined> {
  const text = await fs.read(PERSIST_RECORD);
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as PersistRecord;
    if (record.version === 1 && Array.isArray(record.created) && Array.isArray(record.addedLines)) return record;
  } catch {
    // Fall through to the error below.
  }
  throw new VfioProtocolError(`${PERSIST_RECORD} is not a vfio-ts persist record`, "persist");
}

/**
 * Carries out a persist plan and records it (merging with an earlier record).
 * `run` executes a command (the CLI passes execFile).
 */
export async function executePersist(
  fs: ConfigFs, plan: PersistPlan, run: (argv: readonly string[]) => Promise<void>,
): Promise<void> {
  const earlier = await readRecord(fs);
  const created = new Set(earlier?.created ?? []);
  const added = new Map((earlier?.addedLines ?? []).map((a) => [a.path, [...a.lines]]));
  let regenerate: readonly string[] | undefined = earlier?.regenerate;
  for (const action of plan.actions) {
    if (action.kind === "create-file") {
      const existing = await fs.read(action.path);
      if (existing !== undefined && existing !== action.content && !created.has(action.path)) {
        throw new VfioUsageError(`${action.path} exists with other content; vfio-ts will not overwrite it`, "EEXIST");
      }
      if (existing === undefined || created.has(action.path)) created.add(action.path);
      await fs.write(action.path, action.content);
    } else if (action.kind === "add-lines") {
      const text = (await fs.read(action.path)) ?? "";
      const present = new Set(text.split("\n").map((l) => l.trim()));
      const missing = action.lines.filter((l) => !present.has(l));
      if (missing.length > 0) {
        await fs.write(action.path, `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${missing.join("\n")}\n`);
        added.set(action.path, [...(added.get(action.path) ?? []), ...missing]);
      }
    } else {
      await run(action.argv);
      regenerate = action.argv;
    }
  }
  const record: PersistRecord = {
    version: 1, method: plan.method, created: [...created].sort(),
    addedLines: [...added].map(([path, lines]) => ({ path, lines })),
    ...(regenerate ? { regenerate } : {}),
  };
  await fs.write(PERSIST_RECORD, `${JSON.stringify(record, null, 2)}\n`);
}

/** The actions that undo the record, or [] when there is none. */
export async function planUnpersist(fs: ConfigFs): Promise<{ readonly remove: readonly string[]; readonly lines: PersistRecord["addedLines"]; readonly regenerate?: readonly string[] }> {
  const record = await readRecord(fs);
  if (!record) return { remove: [], lines: [] };
  return { remove: record.created, lines: record.addedLines, ...(record.regenerate ? { regenerate: record.regenerate } : {}) };
}

/** Removes what persist wrote (files it created, lines it added), rebuilds the initramfs, drops the record. */
export async function executeUnpersist(fs: ConfigFs, run: (argv: readonly string[]) => Promise<void>): Promise<void> {
  const plan = await planUnpersist(fs);
  for (const path of plan.remove) await fs.remove(path);
  for (const { path, lines } of plan.lines) {
    const text = await fs.read(path);
    if (text === undefined) continue;
    const drop = new Set(lines);
    await fs.write(path, text.split("\n").filter((l) => !drop.has(l.trim())).join("\n"));
  }
  if (plan.regenerate) await run(plan.regenerate);
  await fs.remove(PERSIST_RECORD);
}
