/**
 * The emulated machine's sysfs, rendered from its state on each access, in the layout Linux
 * 6.1 uses, so host/ reads it as it reads a real /sys:
 *
 *   devices/pci0000:00/0000:00:04.0/0000:01:01.0/{vendor,device,class,...,driver_override}
 *       iommu_group -> ../../../../kernel/iommu_groups/4, driver -> ../../../../bus/pci/drivers/vfio-pci
 *   bus/pci/devices/0000:01:01.0 -> ../../../devices/pci0000:00/0000:00:04.0/0000:01:01.0
 *   bus/pci/drivers/<name>/{bind,unbind,new_id,remove_id,<address> -> device}
 *   bus/pci/{drivers_probe,drivers_autoprobe,rescan}
 *   kernel/iommu_groups/<n>/{devices/<address> -> device, type, reserved_regions}
 *   class/iommu/dmar0 -> ../../devices/virtual/iommu/dmar0
 *   module/vfio_iommu_type1/parameters/dma_entry_limit, ...
 *
 * Writes act on the machine as the kernel's store methods do (driver_override_store,
 * bind_store, unbind_store, drivers_probe_store), failing with their errnos.
 */
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import type { Sysfs } from "../../api/sysfs.js";
import type { Machine } from "../machine.js";
import type { PciFunction } from "../pci/function.js";
import type { ErrnoName } from "../vfio/errno.js";
import { uioSysfsEntries } from "../uio/sysfs.js";

type Node =
  | { readonly kind: "dir"; readonly entries: Map<string, Node> }
  | { readonly kind: "file"; read(): string; write?(value: string): Promise<void> | void }
  | { readonly kind: "link"; readonly target: string };

class SysfsWriteError extends Error {
  constructor(readonly errno: ErrnoName) {
    super(errno);
  }
}

const dir = (): Extract<Node, { kind: "dir" }> => ({ kind: "dir", entries: new Map() });
const file = (content: string, write?: (value: string) => Promise<void> | void): Node =>
  write ? { kind: "file", read: () => content, write } : { kind: "file", read: () => content };
const link = (target: string): Node => ({ kind: "link", target });
const hex = (v: number, width: number) => `0x${v.toString(16).padStart(width, "0")}`;

/** The path of a function's directory under devices/, as a list of components. */
function devicePath(fn: PciFunction): string[] {
  const chain: PciFunction[] = [];
  for (let f: PciFunction | undefined = fn; f; f = f.upstream) chain.unshift(f);
  const domain = fn.address.slice(0, 4);
  return ["devices", `pci${domain}:${chain[0]!.address.slice(5, 7)}`, ...chain.map((f) => f.address)];
}

/** A relative symlink target from directory `from` (components) to path `to` (components). */
function relative(from: readonly string[], to: readonly string[]): string {
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  return [...Array<string>(from.length - common).fill(".."), ...to.slice(common)].join("/");
}

function ensureDir(root: Extract<Node, { kind: "dir" }>, components: readonly string[]): Extract<Node, { kind: "dir" }> {
  let d = root;
  for (const c of components) {
    let next = d.entries.get(c);
    if (!next) {
      next = dir();
      d.entries.set(c, next);
    }
    if (next.kind !== "dir") throw new Error(`sysfs render: ${components.join("/")} crosses a non-directory`);
    d = next;
  }
  return d;
}

function put(root: Extract<Node, { kind: "dir" }>, path: string, node: Node): void {
  const parts = path.split("/");
  ensureDir(root, parts.slice(0, -1)).entries.set(parts[parts.length - 1]!, node);
}

/** The modalias line of a PCI function (drivers/pci/pci-sysfs.c modalias_show). */
function modalias(fn: PciFunction): string {
  const id = fn.model.identity;
  const h8 = (v: number) => v.toString(16).toUpperCase().padStart(8, "0");
  const h2 = (v: number) => v.toString(16).toUpperCase().padStart(2, "0");
  return `pci:v${h8(id.vendorId)}d${h8(id.deviceId)}sv${h8(id.subsystemVendorId)}sd${h8(id.subsystemId)}bc${h2(id.classCode >> 16)}sc${h2((id.classCode >> 8) & 0xff)}i${h2(id.classCode & 0xff)}\n`;
}

function render(machine: Machine): Extract<Node, { kind: "dir" }> {
  const root = dir();
  const pciBus = ["bus", "pci"];
  for (const fn of machine.functions) {
    const path = devicePath(fn);
    const d = ensureDir(root, path);
    const id = fn.model.identity;
    const f = (name: string, content: string, write?: (value: string) => Promise<void> | void) => d.entries.set(name, file(content, write));
    f("vendor", `${hex(id.vendorId, 4)}\n`);
    f("device", `${hex(id.deviceId, 4)}\n`);
    f("subsystem_vendor", `${hex(id.subsystemVendorId, 4)}\n`);
    f("subsystem_device", `${hex(id.subsystemId, 4)}\n`);
    f("class", `${hex(id.classCode, 6)}\n`);
    f("revision", `${hex(id.revision, 2)}\n`);
    f("irq", `${fn.irq ?? (fn.model.intxPin ? fn.config.read(0x3c, 1) : 0)}\n`);
    // pci_enable_device() count: bridges are enabled at boot; vfio-pci enables only while open.
    const vdev = machine.vfioDevices.get(fn);
    const enabled = fn.isBridge || (fn.driver !== undefined && (fn.driver !== "vfio-pci" || (vdev?.openCount ?? 0) > 0));
    f("enable", enabled ? "1\n" : "0\n");
    f("numa_node", "-1\n");
    f("modalias", modalias(fn));
    f("local_cpulist", "0-1\n");
    const reset = machine.resetMethodOf(fn);
    if (reset) f("reset_method", `${reset}\n`);
    f("resource", fn.resources.concat(Array(7).fill({ start: 0n, size: 0n, flags: 0 })).slice(0, 13).map((r) => {
      const end = r.size ? r.start + r.size - 1n : 0n;
      const h = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;
      return `${h(r.start)} ${h(end)} ${h(BigInt(r.flags))}\n`;
    }).join(""));
    f("driver_override", `${fn.driverOverride ?? "(null)"}\n`, (value) => {
      // driver_set_override(): a trailing newline is dropped; an empty value clears it.
      if (value.length >= 4096) throw new SysfsWriteError("EINVAL");
      const v = value.endsWith("\n") ? value.slice(0, -1) : value;
      fn.driverOverride = v.length ? v : undefined;
      machine.generation++;
    });
    d.entries.set("iommu_group", link(relative(path, ["kernel", "iommu_groups", String(fn.groupId)])));
    d.entries.set("iommu", link(relative(path, ["devices", "virtual", "iommu", "dmar0"])));
    d.entries.set("subsystem", link(relative(path, pciBus)));
    if (fn.driver) d.entries.set("driver", link(relative(path, [...pciBus, "drivers", fn.driver])));
    for (const entry of uioSysfsEntries(machine, fn, path)) put(root, entry.path, "link" in entry ? link(entry.link) : file(entry.file));
    put(root, `bus/pci/devices/${fn.address}`, link(relative([...pciBus, "devices"], path)));
    put(root, `kernel/iommu_groups/${fn.groupId}/devices/${fn.address}`, link(relative(["kernel", "iommu_groups", String(fn.groupId), "devices"], path)));
    put(root, `devices/virtual/iommu/dmar0/devices/${fn.address}`, link(relative(["devices", "virtual", "iommu", "dmar0", "devices"], path)));
  }
  for (const group of machine.groups) {
    // The default domain: DMA with a flush queue (x86's lazy default, CONFIG_IOMMU_DEFAULT_DMA_LAZY).
    put(root, `kernel/iommu_groups/${group.id}/type`, file(`${machine.defaultDomain}\n`));
    put(root, `kernel/iommu_groups/${group.id}/reserved_regions`, file(machine.iommu.reserved
      .map((r) => `0x${r.start.toString(16).padStart(16, "0")} 0x${r.end.toString(16).padStart(16, "0")} ${r.type}\n`).join("")));
  }
  put(root, "class/iommu/dmar0", link("../../devices/virtual/iommu/dmar0"));
  put(root, "devices/virtual/iommu/dmar0/intel-iommu/version", file("1:0\n"));
  put(root, "devices/virtual/iommu/dmar0/intel-iommu/address", file("fed90000\n"));
  // QEMU's VT-d registers as the guest reads them: CAP (MGAW 39, 2 MiB/1 GiB pages), ECAP (IR, PT, no SC).
  put(root, "devices/virtual/iommu/dmar0/intel-iommu/cap", file("d2008c22260206\n"));
  put(root, "devices/virtual/iommu/dmar0/intel-iommu/ecap", file("f00f4a\n"));
  put(root, "devices/virtual/iommu/dmar0/intel-iommu/domains_supported", file("256\n"));

  // bus/pci/drivers/<name>: every loaded driver.
  for (const driver of machine.drivers) {
    const base = [...pciBus, "drivers", driver.name];
    const d = ensureDir(root, base);
    d.entries.set("bind", file("", async (value) => {
      const fn = machine.fn(value.trim());
      if (!fn || !driverMatchesByName(machine, fn, driver.name)) throw new SysfsWriteError("ENODEV");
      if (fn.driver) throw new SysfsWriteError("EBUSY");
      const result = machine.probe(fn, driver);
      if (result === "EBUSY") throw new SysfsWriteError("EBUSY");
      if (result === "EPROBE") throw new SysfsWriteError(errnoNameOf(machine.probeErrno(fn, driver)));
    }));
    d.entries.set("unbind", file("", async (value) => {
      const fn = machine.fn(value.trim());
      if (!fn || fn.driver !== driver.name) throw new SysfsWriteError("ENODEV");
      await machine.detach(fn);
    }));
    d.entries.set("new_id", file("", () => {
      throw new SysfsWriteError("EINVAL");
    }));
    d.entries.set("remove_id", file("", () => {
      throw new SysfsWriteError("ENODEV");
    }));
    d.entries.set("uevent", file("", () => {}));
    if (driver.name !== "pcieport") d.entries.set("module", link(relative(base, ["module", driver.name.replace(/-/g, "_")])));
    for (const fn of machine.functions) {
      if (fn.driver === driver.name) d.entries.set(fn.address, link(relative(base, devicePath(fn))));
    }
    if (driver.name !== "pcieport") put(root, `module/${driver.name.replace(/-/g, "_")}/refcnt`, file("0\n"));
  }
  ensureDir(root, [...pciBus, "devices"]);
  put(root, "bus/pci/drivers_autoprobe", file("1\n", () => {}));
  put(root, "bus/pci/rescan", file("", () => {}));
  put(root, "bus/pci/drivers_probe", file("", (value) => {
    const fn = machine.fn(value.trim());
    if (!fn) throw new SysfsWriteError("ENODEV");
    // bus_rescan_devices_helper(): an error from device_attach makes the write fail with EINVAL.
    if (machine.attach(fn)) throw new SysfsWriteError("EINVAL");
  }));
  put(root, "module/vfio/refcnt", file("0\n"));
  put(root, "module/vfio_pci_core/refcnt", file("0\n"));
  put(root, "module/vfio_iommu_type1/parameters/dma_entry_limit", file(`${machine.iommu.dmaEntryLimit}\n`));
  put(root, "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", file("N\n"));
  put(root, "module/vfio_iommu_type1/parameters/disable_hugepages", file("N\n"));
  put(root, "module/vfio_pci/parameters/disable_idle_d3", file("N\n"));
  put(root, "module/vfio_pci/parameters/ids", file("\n"));
  return root;
}

function driverMatchesByName(machine: Machine, fn: PciFunction, name: string): boolean {
  const driver = machine.drivers.find((d) => d.name === name);
  if (!driver) return false;
  if (fn.driverOverride !== undefined) return fn.driverOverride === name;
  return !driver.overrideOnly && driver.matchesId(fn);
}

function errnoNameOf(errno: number): ErrnoName {
  return errno === errnoValue("ENODEV") ? "ENODEV" : errno === errnoValue("ENXIO") ? "ENXIO" : "EINVAL";
}

/** Resolves `path` through symlinks; returns the node, or undefined. */
function resolve(root: Extract<Node, { kind: "dir" }>, path: string, followLast: boolean): Node | undefined {
  const stack: string[] = [];
  const parts = path.split("/").filter((p) => p && p !== ".");
  let hops = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "..") {
      stack.pop();
      continue;
    }
    const parent = lookup(root, stack);
    if (!parent || parent.kind !== "dir") return undefined;
    const node = parent.entries.get(part);
    if (!node) return undefined;
    const last = i === parts.length - 1;
    if (node.kind === "link" && (!last || followLast)) {
      if (++hops > 40) return undefined;
      const rest = parts.slice(i + 1);
      const target = node.target.split("/");
      parts.splice(0, parts.length, ...stack, ...target, ...rest);
      stack.length = 0;
      i = -1;
      continue;
    }
    stack.push(part);
  }
  return lookup(root, stack);
}

function lookup(root: Extract<Node, { kind: "dir" }>, components: readonly string[]): Node | undefined {
  let node: Node = root;
  for (const c of components) {
    if (node.kind !== "dir") return undefined;
    const next: Node | undefined = node.entries.get(c);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

const cache = new WeakMap<Machine, { generation: number; tree: Extract<Node, { kind: "dir" }> }>();

/** The tree for the machine's current state, rendered again only after something it shows changed. */
function tree(machine: Machine): Extract<Node, { kind: "dir" }> {
  const hit = cache.get(machine);
  if (hit && hit.generation === machine.generation) return hit.tree;
  const rendered = render(machine);
  cache.set(machine, { generation: machine.generation, tree: rendered });
  return rendered;
}

/** The Sysfs of `machine`: reads show its current state; writes act on it. */
export function renderSysfs(machine: Machine): Sysfs {
  return {
    description: `emulated machine (${machine.description})`,
    async read(path) {
      const node = resolve(tree(machine), path, true);
      return node?.kind === "file" ? node.read() : undefined;
    },
    async list(path) {
      const node = resolve(tree(machine), path, true);
      return node?.kind === "dir" ? [...node.entries.keys()].sort() : undefined;
    },
    async readlink(path) {
      const node = resolve(tree(machine), path, false);
      return node?.kind === "link" ? node.target : undefined;
    },
    async write(path, value) {
      const node = resolve(tree(machine), path, true);
      const fail = (name: ErrnoName) => new VfioSystemError("sysfs write", errnoValue(name), "emulated", path);
      if (!node) throw fail("ENOENT");
      if (node.kind === "dir") throw fail("EISDIR");
      if (node.kind !== "file" || !node.write) throw fail("EACCES");
      try {
        await node.write(value);
      } catch (error) {
        if (error instanceof SysfsWriteError) throw fail(error.errno);
        throw error;
      }
    },
  };
}
