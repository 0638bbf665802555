/**
 * `vfio ls --html FILE`: the IOMMU topology as a page a person reads at a glance. One file,
 * no network and no script: inline CSS, each IOMMU group a box (viable or not, and why),
 * the PCI tree with every function's group, and what each bridge does to isolation.
 *
 * What a bridge does is read from the kernel's verdict, not guessed: Linux 6.1
 * (drivers/iommu/iommu.c pci_device_group) puts the functions behind a bridge in groups of
 * their own only when every bridge on the path has ACS; behind a conventional PCI bridge,
 * whose DMA carries the bridge's requester ID, they join the bridge's group.
 */
import type { Inventory, InventoryGroup } from "../host/inventory.js";
import type { PciDevice } from "../host/pci-devices.js";
import type { PciIds } from "../host/pci-ids.js";
import type { PciPlace } from "../host/pci-tree.js";
import { className, deviceIds, deviceName } from "./describe-device.js";

/** What the page is about: the machine's description and the data behind `vfio ls`. */
export interface TopologyPage {
  readonly machine: string;
  readonly inventory: Inventory;
  readonly places: ReadonlyMap<string, PciPlace>;
  readonly ids: PciIds;
}

const PCI_CLASS_BRIDGE_PCI = 0x0604;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Hues for groups: neighbours far apart, and none the red that means "not viable". */
const HUES = [210, 140, 35, 275, 180, 95, 320, 55, 250, 160];
const hue = (group: number): number => HUES[group % HUES.length]!;

function label(device: PciDevice, ids: PciIds): string {
  const name = deviceName(device, ids);
  return name === "-" ? className(device, ids) : `${className(device, ids)} · ${name}`;
}

function driverChip(driver: string | undefined, blocks: boolean): string {
  if (driver === undefined) return `<span class="driver none">no driver</span>`;
  return `<span class="driver${blocks ? " blocks" : driver === "vfio-pci" ? " vfio" : ""}">${esc(driver)}${blocks ? " · claims kernel DMA" : ""}</span>`;
}

function groupBadge(group: number | undefined, viable: boolean | undefined): string {
  if (group === undefined) return `<span class="gbadge nogroup">no group</span>`;
  return `<a class="gbadge${viable === false ? " bad" : ""}" href="#group-${group}" style="--hue:${hue(group)}">group ${group}</a>`;
}

function groupBox(g: InventoryGroup, page: TopologyPage): string {
  const { group, viability } = g;
  const blockers = new Set(viability.blockers.map((b) => b.name));
  const members = group.members.map((m) => {
    const device = g.devices.find((d) => d.address === m.name);
    return `<li${blockers.has(m.name) ? ` class="blocker"` : ""}><code>${esc(m.name)}</code>` +
      `<span class="what">${device ? esc(label(device, page.ids)) : "not a PCI device"}${device ? ` <span class="ids">${deviceIds(device)}</span>` : ""}</span>` +
      `${driverChip(m.driver, blockers.has(m.name))}</li>`;
  }).join("");
  const why = viability.viable
    ? `<p class="why">VFIO can take this group: no member's driver claims kernel DMA.</p>`
    : `<p class="why"><strong>Blocked by ${viability.blockers.map((b) => `<code>${esc(b.name)}</code> on <b>${esc(b.driver ?? "")}</b>`).join(", ")}</strong>: ` +
      `a driver that claims kernel DMA, so VFIO refuses the whole group (EPERM). ` +
      `<span class="fix">Fix: <code>vfio check ${group.id}</code></span></p>`;
  return `<article class="group ${viability.viable ? "viable" : "not-viable"}" id="group-${group.id}" data-group="${group.id}" data-viable="${viability.viable}" style="--hue:${hue(group.id)}">` +
    `<h3><span class="gname">Group ${group.id}</span><span class="verdict">${viability.viable ? "viable" : "not viable"}</span></h3>` +
    `${group.type ? `<p class="dtype">domain ${esc(group.type)}</p>` : ""}<ul class="members">${members}</ul>${why}</article>`;
}

/** What a bridge does to the functions below it, from the groups the kernel formed. */
function bridgeNote(bridge: PciDevice, children: readonly PciDevice[]): string {
  const kind = bridge.driver === "pcieport" ? "PCIe port" : "PCI-to-PCI bridge";
  if (children.length === 0) return `${kind}: nothing behind it`;
  const shared = children.every((c) => c.iommuGroup !== undefined && c.iommuGroup === bridge.iommuGroup);
  if (shared) {
    return `${kind}, no isolation: the functions behind it share its group ${bridge.iommuGroup} ` +
      "(a conventional PCI bridge forwards their DMA under its own requester ID, so the IOMMU cannot tell them apart)";
  }
  const own = children.every((c) => c.iommuGroup !== undefined && c.iommuGroup !== bridge.iommuGroup);
  return own ? `${kind}, ACS: the functions below it have groups of their own` : `${kind}: some functions below it share its group`;
}

function treeNode(device: PciDevice, byParent: ReadonlyMap<string | undefined, PciDevice[]>, page: TopologyPage, viable: ReadonlyMap<number, boolean>): string {
  const children = byParent.get(device.address) ?? [];
  const bridge = device.classCode >> 8 === PCI_CLASS_BRIDGE_PCI;
  const group = device.iommuGroup;
  const blocks = group !== undefined && page.inventory.groups.find((g) => g.group.id === group)?.viability.blockers.some((b) => b.name === device.address) === true;
  const row = `<div class="node${bridge ? " bridge" : ""}"${group === undefined ? "" : ` style="--hue:${hue(group)}"`}>` +
    `<code>${esc(device.address)}</code><span class="what">${esc(label(device, page.ids))}</span>` +
    `${driverChip(device.driver, blocks)}${groupBadge(group, group === undefined ? undefined : viable.get(group))}</div>` +
    (bridge ? `<p class="bnote">${esc(bridgeNote(device, children))}</p>` : "");
  const below = children.map((c) => treeNode(c, byParent, page, viable)).join("");
  return `<li>${row}${below ? `<ul>${below}</ul>` : ""}</li>`;
}

function tree(page: TopologyPage): string {
  const { devices } = page.inventory;
  const byParent = new Map<string | undefined, PciDevice[]>();
  for (const d of devices) {
    const parent = page.places.get(d.address)?.parent;
    byParent.set(parent, [...(byParent.get(parent) ?? []), d]);
  }
  const viable = new Map(page.inventory.groups.map((g) => [g.group.id, g.viability.viable]));
  const roots = [...new Set(devices.filter((d) => page.places.get(d.address)?.parent === undefined).map((d) => page.places.get(d.address)?.root ?? "?"))];
  return roots.map((root) => {
    const top = (byParent.get(undefined) ?? []).filter((d) => (page.places.get(d.address)?.root ?? "?") === root);
    return `<li class="rootbus"><div class="node root"><code>${esc(root)}</code><span class="what">root bus (host bridge)</span></div>` +
      `<ul>${top.map((d) => treeNode(d, byParent, page, viable)).join("")}</ul></li>`;
  }).join("");
}

const STYLE = `
:root{color-scheme:light;--ink:#1d2430;--muted:#5b6472;--line:#d9dee6;--bad:#c62828;--good:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:#f4f6f9}
header{padding:20px 28px 14px;background:#1d2430;color:#fff}
header h1{margin:0 0 4px;font-size:22px;font-weight:650}
header p{margin:2px 0;color:#c9d1dc}
header .summary b.bad{color:#ff8a80}
main{padding:8px 28px 28px}
h2{font-size:16px;margin:22px 0 10px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
code{font:12.5px/1.3 ui-monospace,"DejaVu Sans Mono",monospace}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:14px}
.group{background:#fff;border:1px solid var(--line);border-top:5px solid hsl(var(--hue) 55% 48%);border-radius:8px;padding:10px 14px 12px;box-shadow:0 1px 2px #0000000d}
.gname{color:#fff;background:hsl(var(--hue) 55% 42%);padding:1px 10px;border-radius:999px}
.group h3{display:flex;align-items:center;justify-content:space-between;margin:0 0 6px;font-size:15px}
.verdict{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;padding:2px 8px;border-radius:999px;background:#e8f5e9;color:var(--good)}
.not-viable{border-color:#f1b5b5;border-top-color:var(--bad);background:#fff8f8}
.not-viable .verdict{background:var(--bad);color:#fff}
.dtype{margin:0 0 6px;color:var(--muted);font-size:12px}
.members{list-style:none;margin:0;padding:0}
.members li{display:grid;grid-template-columns:104px 1fr auto;gap:8px;align-items:baseline;padding:4px 0;border-top:1px solid #eef1f5}
.members li:first-child{border-top:0}
.members li.blocker{background:#fdecec;margin:0 -6px;padding:4px 6px;border-radius:4px}
.what{color:var(--ink);overflow-wrap:anywhere}
.ids{color:var(--muted);font-size:12px}
.driver{font-size:12px;padding:1px 7px;border-radius:4px;background:#eef1f5;color:var(--muted);white-space:nowrap}
.driver.vfio{background:#e3f2fd;color:#1565c0}
.driver.blocks{background:var(--bad);color:#fff;font-weight:600}
.why{margin:8px 0 0;font-size:13px;color:var(--muted)}
.not-viable .why{color:#7f1d1d}
.fix{white-space:nowrap}
.tree,.tree ul{list-style:none;margin:0;padding-left:22px}
.tree{padding-left:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.tree ul{border-left:2px solid var(--line);margin-left:8px}
.node{display:flex;gap:10px;align-items:baseline;padding:3px 8px;margin:2px 0;border-left:4px solid hsl(var(--hue,210) 60% 50%);background:hsl(var(--hue,210) 60% 50% / .06);border-radius:4px}
.node.root{border-left-color:#1d2430;background:#eef1f5;font-weight:600}
.node.bridge{font-weight:600}
.node .what{flex:1}
.gbadge{font-size:12px;font-weight:600;text-decoration:none;padding:1px 8px;border-radius:999px;color:#fff;background:hsl(var(--hue) 55% 42%);white-space:nowrap}
.gbadge.bad{outline:2px solid var(--bad);outline-offset:1px}
.gbadge.nogroup{background:#9aa3af}
.bnote{margin:0 0 4px 14px;font-size:12.5px;color:var(--muted);font-style:italic}
footer{padding:0 28px 24px;color:var(--muted);font-size:12px}
`;

/** The page, as one self-contained HTML document. */
export function renderTopologyHtml(page: TopologyPage): string {
  const { inventory } = page;
  const blocked = inventory.groups.filter((g) => !g.viability.viable).length;
  const iommu = inventory.iommu.active
    ? `IOMMU active${inventory.iommu.units.length > 0 ? ` (${esc(inventory.iommu.units.map((u) => u.name).join(", "))})` : ""}, interrupt remapping ${esc(inventory.iommu.interruptRemapping)}`
    : `No IOMMU is active: ${esc(inventory.iommu.inactiveReason ?? "")}`;
  const groups = inventory.groups.length > 0
    ? `<div class="grid">${inventory.groups.map((g) => groupBox(g, page)).join("")}</div>`
    : `<p>No IOMMU groups: without an active IOMMU, VFIO can take no device.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>IOMMU topology: ${esc(page.machine)}</title><style>${STYLE}</style></head>
<body><header><h1>IOMMU topology</h1><p class="machine">${esc(page.machine)}</p><p class="iommu">${iommu}</p>
<p class="summary">${inventory.groups.length} group${inventory.groups.length === 1 ? "" : "s"}, ${inventory.devices.length} PCI functions${blocked > 0 ? `, <b class="bad">${blocked} not viable</b>` : ""}</p></header>
<main><section><h2>IOMMU groups</h2>${groups}</section>
<section><h2>PCI tree</h2><ul class="tree">${tree(page)}</ul></section></main>
<footer>Written by vfio ls --html. A group is viable when no member is bound to a driver that claims kernel DMA (Linux 6.1's rule); VFIO hands out whole groups.</footer>
</body></html>
`;
}
