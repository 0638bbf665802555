/**
 * `vfio check <device|group>`: is it ready for VFIO, and if not, exactly what to do.
 * Exit status 0 when ready, 1 when not (2 for a usage error, from run.ts).
 */
import { diagnose, parseCheckTarget, type CheckReport, type Finding } from "../../host/diagnose.js";
import type { FixAction } from "../../host/fix-action.js";
import { noIommuText } from "../../api/no-iommu.js";
import type { PciIds } from "../../host/pci-ids.js";
import type { Command } from "../command.js";
import { className, deviceIds, deviceJson, deviceName, toJson } from "../describe-device.js";
import { HOST_OPTIONS_USAGE, parseHostOptions } from "../host-options.js";
import { formatBytes } from "../format.js";
import { formatTable, styleFor, terminalWidth, type Style } from "../style.js";
import type { Sysfs } from "../../api/sysfs.js";
import { describeNoIommuMode, describeUioBinding, readNoIommuMode, uioBindings, type NoIommuMode, type UioBinding } from "../../host/uio-status.js";

function actionText(action: FixAction): string {
  switch (action.kind) {
    case "load-module":
      return `load ${action.module}`;
    case "unbind":
      return `unbind ${action.driver} from ${action.device}`;
    case "bind-vfio-pci":
      return `bind ${action.device} to vfio-pci${action.from === undefined ? "" : ` (instead of ${action.from})`}`;
  }
}

/** An action with its commands: `vfio bind` first where it applies, the raw sysfs writes as the alternative. */
function actionLines(action: FixAction, indent: string): string[] {
  if (action.kind === "bind-vfio-pci") {
    if (action.commands.length === 0) return [`${indent}${actionText(action)}:`, `${indent}  ${action.vfio}`];
    return [
      `${indent}${actionText(action)}:`,
      `${indent}  ${action.vfio}`,
      `${indent}  or by hand (no safety checks, no journal for 'vfio restore'):`,
      ...action.commands.map((c) => `${indent}    ${c}`),
    ];
  }
  if (action.commands.length === 0) return [`${indent}${actionText(action)} (on the machine that was inspected)`];
  return [`${indent}${actionText(action)}:`, ...action.commands.map((c) => `${indent}  ${c}`)];
}

/** The lines of one finding, as `vfio check` prints them (vfio passthrough prints them too). */
export function findingLines(f: Finding, style: Style): string[] {
  const label = f.severity === "error" ? style.red("error:") : style.yellow("warning:");
  switch (f.code) {
    case "iommu-inactive":
      return [`${label} ${noIommuText(f.reason)}`];
    case "interrupt-remapping-off":
      return [`${label} interrupt remapping is off: ${f.fix}`];
    case "interrupt-remapping-unknown":
      return [`${label} interrupt remapping unknown: ${f.fix}`];
    case "device-without-group":
      return [`${label} ${f.device} has no IOMMU group: ${f.fix}`];
    case "group-not-viable": {
      const lines = [`${label} group ${f.group} is not viable: ${f.blockers.map((b) => `${b.device} is bound to ${b.driver}`).join(", ")}, a driver that claims kernel DMA.`];
      f.fixes.forEach((alternatives, i) => {
        const blocker = f.blockers[i]!;
        lines.push(alternatives.length > 1 ? `  fix ${blocker.device}, either:` : `  fix ${blocker.device}:`);
        alternatives.forEach((a, j) => {
          if (j > 0) lines.push("   or:");
          lines.push(...actionLines(a, "    "));
        });
      });
      return lines;
    }
    case "not-bound-to-vfio":
      return [
        `${label} ${f.device} is ${f.driver === undefined ? "not bound to any driver" : `bound to ${f.driver}`}; VFIO hands out devices bound to vfio-pci.`,
        ...f.actions.flatMap((a) => actionLines(a, "  ")),
      ];
    case "vfio-module-missing":
      return [`${label} vfio-pci is not loaded.`, ...f.actions.flatMap((a) => actionLines(a, "  "))];
    case "dev-vfio-missing":
      return [`${label} ${f.path} does not exist: ${f.fix}`];
    case "dev-vfio-denied":
      return [`${label} ${f.path} (mode ${f.mode.toString(8).padStart(4, "0")}, owner ${f.uid}:${f.gid}): ${f.fix}`];
    case "kernel-before-dma-ownership":
      return [`${label} kernel ${f.release}: ${f.fix}`];
    case "memlock-low":
      return [`${label} RLIMIT_MEMLOCK is ${formatBytes(f.limit)}: ${f.fix}`];
    case "boot-vga":
      return [`${label} ${f.device}: ${f.fix}`];
    case "no-reset":
      return [`${label} ${f.device}: ${f.fix}`];
    case "group-open":
      return [`${label} group ${f.group} is open by ${f.openers.join(", ")}: ${f.fix}`];
  }
}

/** What `vfio check` adds about the unsafe ways: UIO-bound devices, and VFIO's no-IOMMU mode where no IOMMU is active. */
interface UnsafeFacts {
  readonly uio: readonly UioBinding[];
  readonly noIommu: NoIommuMode | undefined;
}

async function unsafeFacts(sysfs: Sysfs, report: CheckReport): Promise<UnsafeFacts> {
  const devices = report.members.map((m) => ({ address: m.name, driver: m.driver }));
  const target = report.target;
  if (target.kind === "device" && !devices.some((d) => d.address === target.address)) {
    const address: string = target.address;
    const link = await sysfs.readlink(`bus/pci/devices/${address}/driver`);
    devices.push({ address, driver: link?.split("/").pop() });
  }
  return { uio: await uioBindings(sysfs, devices), noIommu: report.iommu.active ? undefined : await readNoIommuMode(sysfs) };
}

function unsafeLines(facts: UnsafeFacts, style: Style): string {
  const lines = facts.uio.map((b) => style.yellow(`warning: ${describeUioBinding(b)}`));
  if (facts.noIommu !== undefined) lines.push(describeNoIommuMode(facts.noIommu));
  return lines.length > 0 ? `${lines.join("\n")}\n\n` : "";
}

function render(report: CheckReport, ids: PciIds, style: Style, width: number | undefined): string {
  const what = report.target.kind === "device" ? report.target.address : `group ${report.target.id}`;
  const out: string[] = [`${style.bold(what)}: ${report.ready ? style.green("ready for VFIO") : style.red("not ready for VFIO")}`, ""];
  const { iommu } = report;
  const facts: string[][] = [];
  if (report.kernelRelease !== undefined) facts.push(["kernel", report.kernelRelease]);
  facts.push(["IOMMU", iommu.active ? `active${iommu.units.length > 0 ? ` (${iommu.units.map((u) => u.name).join(", ")})` : ""}` : "not active"]);
  if (iommu.active) facts.push(["interrupt remapping", iommu.interruptRemapping]);
  if (report.group !== undefined) {
    const verdict = report.viability?.viable ? "viable" : "not viable";
    facts.push([`group ${report.group.id}`, `${verdict}${report.group.type ? `, type ${report.group.type}` : ""}`]);
  }
  if (report.group !== undefined && report.devVfio.listed) {
    const node = report.devVfio.group;
    facts.push([`/dev/vfio/${report.group.id}`, node === undefined ? "absent" : `mode ${node.mode.toString(8).padStart(4, "0")}, owner ${node.uid}:${node.gid}`]);
  } else if (report.group !== undefined) {
    facts.push(["/dev/vfio", "absent"]);
  }
  if (report.memlock !== undefined) {
    const soft = report.memlock.soft === undefined ? "unlimited" : formatBytes(report.memlock.soft);
    facts.push(["memlock", `${soft}${report.identity?.uid === 0 ? " (root: CAP_IPC_LOCK lifts it)" : ""}`]);
  }
  const device = report.members.find((m) => m.isTarget)?.pci;
  if (report.target.kind === "device" && device !== undefined) {
    facts.push(["NUMA node", device.numaNode === undefined ? "none" : String(device.numaNode)]);
    if (device.resetMethods !== undefined) facts.push(["reset", device.resetMethods.length > 0 ? device.resetMethods.join(", ") : "none"]);
    if (device.bootVga !== undefined) facts.push(["boot VGA", device.bootVga ? "yes" : "no"]);
    if (device.physfn !== undefined) facts.push(["SR-IOV", `virtual function of ${device.physfn}`]);
    if (device.virtfns.length > 0) facts.push(["SR-IOV", `physical function of ${device.virtfns.length} VF${device.virtfns.length === 1 ? "" : "s"}: ${device.virtfns.join(", ")}`]);
    if (device.driverOverride !== undefined) facts.push(["driver_override", device.driverOverride]);
  }
  out.push(formatTable(facts.map(([k, v]) => [`  ${k}`, v!])), "");
  if (report.members.length > 0) {
    out.push(report.group !== undefined ? "members:" : "device:");
    out.push(
      formatTable(
        report.members.map((m) => [
          m.isTarget ? "  >" : "   ",
          m.name,
          m.pci ? deviceIds(m.pci) : "-",
          m.pci ? className(m.pci, ids) : "-",
          m.pci ? deviceName(m.pci, ids) : "(not PCI)",
          m.driver === undefined ? "no driver" : m.blocks ? style.red(`${m.driver} (claims kernel DMA)`) : m.driver,
        ]),
        width,
        [4, 3],
      ),
      "",
    );
  }
  const findings = report.findings.flatMap((f) => findingLines(f, style));
  if (findings.length > 0) out.push(...findings, "");
  return out.join("\n");
}

function json(report: CheckReport, ids: PciIds): unknown {
  return {
    target: report.target,
    ready: report.ready,
    iommu: report.iommu,
    kernelRelease: report.kernelRelease ?? null,
    group: report.group === undefined ? null : { id: report.group.id, type: report.group.type ?? null, viable: report.viability?.viable ?? null },
    members: report.members.map((m) => ({
      name: m.name,
      driver: m.driver ?? null,
      blocks: m.blocks,
      target: m.isTarget,
      pci: m.pci === undefined ? null : deviceJson(m.pci, ids),
    })),
    devVfio: report.devVfio,
    // Unlimited is the kernel's word in /proc/<pid>/limits; undefined would vanish from JSON.
    memlock: report.memlock === undefined ? null : { soft: report.memlock.soft ?? "unlimited", hard: report.memlock.hard ?? "unlimited" },
    findings: report.findings,
  };
}

/** `vfio check`. */
export const checkCommand: Command = {
  name: "check",
  summary: "is a device or IOMMU group ready for VFIO, and what to do if not",
  usage: [
    "usage: vfio check <device|group> [--sysfs DIR | --emulated] [--json] [--pci-ids FILE]",
    "",
    "A readiness report for a PCI device (0000:01:00.0 or 01:00.0) or an IOMMU group number:",
    "IOMMU on, interrupt remapping, every group member with its driver, the verdict, exactly",
    "which devices to unbind or bind (with the commands), /dev/vfio access, memlock, and",
    "who holds the group open. Printed commands name the machine inspected (--sysfs, --emulated).",
    "Exit status 0 when ready, 1 when not, 2 for a usage error.",
    "",
    "options:",
    HOST_OPTIONS_USAGE,
  ].join("\n"),
  async run(args, io) {
    const options = await parseHostOptions("check", args, { min: 1, max: 1, name: "device or group" });
    const target = parseCheckTarget(options.positionals[0]!);
    const { fix, probe } = options.target;
    const report = await diagnose(options.env, target, { fix, openers: (path) => probe.openers(path) });
    const facts = await unsafeFacts(options.env.sysfs, report);
    const style = styleFor(io);
    io.stdout.write(options.json
      ? toJson({ ...(json(report, options.pciIds) as object), uio: facts.uio.map((b) => ({ device: b.device, uio: b.uio ?? null })), noIommuMode: facts.noIommu ?? null })
      : render(report, options.pciIds, style, terminalWidth(io)) + unsafeLines(facts, style));
    return report.ready ? 0 : 1;
  },
};
