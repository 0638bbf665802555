/**
 * `vfio ls`: IOMMU groups and their devices (address, name, class, driver, viable or not).
 * Without an active IOMMU it says so in one line and still lists the PCI devices.
 */
import { writeFile } from "node:fs/promises";
import { VfioSystemError, errnoValue } from "../../api/errors.js";
import { noIommuText } from "../../api/no-iommu.js";
import { readPciPlaces } from "../../host/pci-tree.js";
import { fsErrorCode } from "../../host/read-error.js";
import { renderTopologyHtml } from "../topology-html.js";
import { vfioCommand, type FixContext } from "../../host/fix-action.js";
import type { IommuStatus } from "../../host/iommu-status.js";
import { readInventory, type Inventory } from "../../host/inventory.js";
import { describeUioBinding, uioBindings, type UioBinding } from "../../host/uio-status.js";
import type { PciIds } from "../../host/pci-ids.js";
import type { Command } from "../command.js";
import { className, deviceIds, deviceJson, deviceName, toJson } from "../describe-device.js";
import { HOST_OPTIONS_USAGE, parseHostOptions } from "../host-options.js";
import { formatTable, styleFor, terminalWidth, type Style } from "../style.js";

/** "No IOMMU…": a sentence of its own. */
const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

function iommuLine(iommu: IommuStatus, style: Style): string {
  if (!iommu.active) return style.yellow(`${capitalized(noIommuText(iommu.inactiveReason))}.`);
  const units = iommu.units.length > 0 ? ` (${iommu.units.map((u) => u.name).join(", ")})` : "";
  const ir = iommu.interruptRemapping === "enabled" ? "interrupt remapping on" : iommu.interruptRemapping === "disabled" ? style.red("interrupt remapping off") : "interrupt remapping unknown";
  return `IOMMU active${units}: ${iommu.groupCount} group${iommu.groupCount === 1 ? "" : "s"}, ${ir}.`;
}

/** Per group, the processes holding /dev/vfio/<group> open (a VM, a driver). */
type Openers = ReadonlyMap<number, readonly string[]>;

function render(inventory: Inventory, ids: PciIds, style: Style, openers: Openers, fix: FixContext, width: number | undefined, uio: readonly UioBinding[] = []): string {
  const lines = [iommuLine(inventory.iommu, style), ""];
  const rows: string[][] = [];
  if (inventory.groups.length > 0) {
    rows.push(["GROUP", "VIABLE", "DEVICE", "IDS", "CLASS", "NAME", "DRIVER"].map(style.bold));
    for (const { group, viability, devices } of inventory.groups) {
      const verdict = viability.viable ? style.green("yes") : style.red("no");
      let first = true;
      for (const member of group.members) {
        const device = devices.find((d) => d.address === member.name);
        const blocks = viability.blockers.includes(member);
        const driver = member.driver === undefined ? "-" : blocks ? style.red(`${member.driver} (claims DMA)`) : member.driver;
        rows.push([
          first ? String(group.id) : "",
          first ? verdict : "",
          member.name,
          device ? deviceIds(device) : "-",
          device ? className(device, ids) : "-",
          device ? deviceName(device, ids) : "(not PCI)",
          driver,
        ]);
        first = false;
      }
    }
  }
  if (inventory.ungrouped.length > 0) {
    // Without groups the group columns say nothing: leave them out.
    const withGroups = rows.length > 0;
    if (withGroups) rows.push([]);
    else rows.push(["DEVICE", "IDS", "CLASS", "NAME", "DRIVER"].map(style.bold));
    for (const d of inventory.ungrouped) {
      const row = [d.address, deviceIds(d), className(d, ids), deviceName(d, ids), d.driver ?? "-"];
      rows.push(withGroups ? ["-", "-", ...row] : row);
    }
  }
  // NAME, then CLASS, give way: the ids beside them name the device too.
  const names = inventory.groups.length > 0 ? [5, 4] : [3, 2];
  lines.push(rows.length > 0 ? formatTable(rows, width, names) : "No PCI devices.");
  const blocked = inventory.groups.filter((g) => !g.viability.viable);
  if (blocked.length > 0) {
    lines.push("");
    for (const g of blocked) {
      const who = g.viability.blockers.map((b) => `${b.name} (${b.driver})`).join(", ");
      lines.push(`Group ${g.group.id} is not viable: ${who} claim${g.viability.blockers.length === 1 ? "s" : ""} kernel DMA; '${vfioCommand(fix, "check", String(g.group.id))}' says how to fix it.`);
    }
  }
  if (openers.size > 0) lines.push("");
  for (const [group, who] of openers) lines.push(`Group ${group} is open by ${who.join(", ")}: in use by a VFIO user.`);
  if (uio.length > 0) lines.push("", ...uio.map((b) => style.yellow(describeUioBinding(b))));
  return `${lines.join("\n")}\n`;
}

function json(inventory: Inventory, ids: PciIds, openers: Openers, uio: readonly UioBinding[] = []): unknown {
  return {
    iommu: inventory.iommu,
    groups: inventory.groups.map(({ group, viability, devices }) => ({
      id: group.id,
      type: group.type ?? null,
      name: group.name ?? null,
      viable: viability.viable,
      blockers: viability.blockers.map((b) => ({ device: b.name, driver: b.driver })),
      members: group.members.map((m) => ({ name: m.name, driver: m.driver ?? null })),
      openers: openers.get(group.id) ?? [],
      devices: devices.map((d) => deviceJson(d, ids)),
    })),
    devices: inventory.devices.map((d) => deviceJson(d, ids)),
    uio: uio.map((b) => ({ device: b.device, uio: b.uio ?? null })),
  };
}

/** `vfio ls`. */
export const lsCommand: Command = {
  name: "ls",
  summary: "list IOMMU groups and their devices, viable or not",
  usage: [
    "usage: vfio ls [--sysfs DIR | --emulated] [--json | --html FILE] [--pci-ids FILE]",
    "",
    "Lists IOMMU groups and their PCI devices: address, ids, class, name, driver, and whether",
    "each group is viable for VFIO (no member bound to a driver that claims kernel DMA, as",
    "Linux 6.1 decides), and which processes hold a group open. Without an active IOMMU,",
    "says why and lists the PCI devices.",
    "",
    "options:",
    HOST_OPTIONS_USAGE,
    "  --html FILE     write the topology as a page instead: each IOMMU group a box (viable or",
    "                  not, and why), the PCI tree with every function's group and what each",
    "                  bridge does to isolation; one self-contained file (no network, no script)",
  ].join("\n"),
  async run(args, io) {
    const options = await parseHostOptions("ls", args, { min: 0, max: 0, name: "argument" }, { html: true });
    const inventory = await readInventory(options.env);
    if (options.html !== undefined) {
      const places = await readPciPlaces(options.env.sysfs, inventory.devices.map((d) => d.address));
      const page = renderTopologyHtml({ machine: options.env.description, inventory, places, ids: options.pciIds });
      await writeFile(options.html, page).catch((error: unknown) => {
        throw new VfioSystemError("open", errnoValue((fsErrorCode(error) ?? "EIO") as "EIO") ?? errnoValue("EIO"), "syscall", options.html, "cannot write the page there; pass another --html FILE", { cause: error });
      });
      io.stdout.write(`Wrote ${options.html}: ${inventory.groups.length} IOMMU groups, ${inventory.devices.length} PCI functions.\n`);
      return 0;
    }
    const openers = new Map<number, readonly string[]>();
    // Only a group with a member on vfio-pci has a /dev/vfio/<group> to hold open: ask for those.
    const nodes = new Set((await options.env.listDevVfio())?.map((n) => n.name));
    for (const { group } of inventory.groups) {
      if (!nodes.has(String(group.id))) continue;
      const who = await options.target.probe.openers(`/dev/vfio/${group.id}`);
      if (who.length > 0) openers.set(group.id, who);
    }
    const uio = await uioBindings(options.env.sysfs, inventory.devices);
    io.stdout.write(options.json ? toJson(json(inventory, options.pciIds, openers, uio)) : render(inventory, options.pciIds, styleFor(io), openers, options.target.fix, terminalWidth(io), uio));
    return 0;
  },
};
