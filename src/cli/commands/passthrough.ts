/**
 * `vfio passthrough <device…> --qemu | --libvirt`: prints the QEMU options or libvirt
 * `<hostdev>` XML for devices already bound by `vfio bind`, after the checks `vfio check`
 * makes (IOMMU, interrupt remapping, binding, viability, /dev/vfio access, who holds the
 * group) and, given the VM's memory, whether it can be pinned.
 */
import { diagnose, type Finding } from "../../host/diagnose.js";
import { shellWord, vfioCommand } from "../../host/fix-action.js";
import { freeHugepageBytes, libvirtHostdevXml, memoryFindings, parseMemorySize, planPassthrough, qemuArguments, type MemoryFinding } from "../../host/passthrough.js";
import { parsePciAddress } from "../../api/pci-address.js";
import { defaultBindingDeps, type BindingDeps } from "../binding-deps.js";
import type { Command } from "../command.js";
import { toJson } from "../describe-device.js";
import { formatBytes } from "../format.js";
import { parseCommandArgs, usageError } from "../parse-args.js";
import { styleFor } from "../style.js";
import { findingLines } from "./check.js";

const usage = `usage: vfio passthrough <device>... (--qemu | --libvirt | --json) [--memory <size> [--hugepages]]
                        [--force] [--sysfs <dir> | --emulated]

Prints what to give QEMU (-device vfio-pci,host=...) or libvirt (<hostdev> elements, managed='no')
to pass the devices to a VM, after the checks 'vfio check' makes for each: the IOMMU is on,
interrupts are remapped, the device is on vfio-pci ('vfio bind'), its IOMMU group is viable,
/dev/vfio is open to this user, and no VFIO user has the group open (--force skips the last).
Refuses (exit 1) when one fails; warnings go to stderr. Other endpoints of the same groups are
named on stderr: no other VM can have them.

  --qemu           print QEMU -device options
  --libvirt        print libvirt <hostdev> XML
  --json           print both, with the groups, their other members and the findings, as JSON
                   (exit 1 when refused, as without)
  --memory <size>  the VM's memory (4G, 512M): with --qemu, RLIMIT_MEMLOCK must cover it
                   (libvirt raises the limit itself)
  --hugepages      the VM's memory comes from huge pages: enough must be free
  --force          go on although a VFIO user has a group open
  --sysfs <dir>    read this sysfs tree instead of /sys (or a capture holding sys/)
  --emulated       the built-in emulated machine`;

/** JSON.stringify's replacer for findings that carry bigints (sizes). */
const big = (_key: string, value: unknown): unknown => (typeof value === "bigint" ? value.toString() : value);

function memoryLine(f: MemoryFinding): string {
  return f.code === "memlock-below-memory"
    ? `error: RLIMIT_MEMLOCK is ${formatBytes(f.limit)}, below the VM's ${formatBytes(f.memory)}: ${f.fix}`
    : `error: ${formatBytes(f.free)} of huge pages free, below the VM's ${formatBytes(f.memory)}: ${f.fix}`;
}

/** `vfio passthrough` over `deps` (tests pass a fake kernel sysfs and an in-memory journal). */
export function passthroughCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "passthrough",
    summary: "print QEMU options or libvirt XML to pass bound devices to a VM",
    usage,
    async run(args, io) {
      const { values, positionals } = parseCommandArgs("passthrough", args, {
        qemu: { type: "boolean" }, libvirt: { type: "boolean" }, force: { type: "boolean" }, sysfs: { type: "string" },
        emulated: { type: "boolean" }, memory: { type: "string" }, hugepages: { type: "boolean" }, json: { type: "boolean" },
      }, { min: 1, max: Infinity, name: "device" });
      const json = values.json === true;
      if ([values.qemu, values.libvirt, json].filter(Boolean).length !== 1) throw usageError("passthrough", "choose one of --qemu, --libvirt and --json");
      if (values.hugepages && values.memory === undefined) throw usageError("passthrough", "--hugepages needs --memory <size>");
      const memory = values.memory === undefined ? undefined : parseMemorySize(values.memory);
      const devices = positionals.map((p) => parsePciAddress(p));
      const target = await deps.openTarget("passthrough", { sysfs: values.sysfs, emulated: values.emulated });
      const style = styleFor({ ...io, stdout: io.stderr });

      // The same checks as `vfio check`, per device; a finding shared by devices is said once.
      const lines = new Set<string>();
      const findings: (Finding | MemoryFinding)[] = [];
      let refused = false;
      let memlock: bigint | undefined;
      let privileged = false;
      for (const address of devices) {
        const report = await diagnose(target.env, { kind: "device", address }, { fix: target.fix, openers: (path) => target.probe.openers(path) });
        const forced = (f: Finding) => f.code === "group-open" && values.force === true;
        for (const f of report.findings) {
          // libvirt opens /dev/vfio/N as the VM's user after labelling it for that user, and
          // sets the VM's memlock limit: this user's access and limit do not apply.
          if (values.libvirt && (f.code === "dev-vfio-denied" || f.code === "memlock-low")) continue;
          if (!findings.some((seen) => JSON.stringify(seen, big) === JSON.stringify(f, big))) findings.push(f);
          if (f.severity === "error" && !forced(f)) refused = true;
          for (const line of findingLines(f, style)) lines.add(forced(f) ? line.replace(/^(\S*)error:/, "$1warning (--force):") : line);
        }
        memlock = report.memlock?.soft;
        privileged = report.identity?.uid === 0;
      }
      if (memory !== undefined) {
        const free = values.hugepages ? await freeHugepageBytes(target.env.sysfs) : undefined;
        // libvirt raises RLIMIT_MEMLOCK of a VM with host devices itself (qemuDomainGetMemLockLimitBytes).
        const memlockSeen = values.libvirt ? undefined : memlock;
        for (const f of memoryFindings(memory, memlockSeen, privileged, free)) {
          refused = true;
          findings.push(f);
          lines.add(memoryLine(f));
        }
      }
      if (json) {
        const plan = refused ? undefined : await planPassthrough(target.sysfs, devices, target.fix);
        io.stdout.write(toJson({
          devices, findings, refused,
          ...(plan ? { groups: plan.groups, companions: plan.companions, qemu: qemuArguments(plan), libvirt: libvirtHostdevXml(plan) } : {}),
        }));
        return refused ? 1 : 0;
      }
      for (const line of lines) io.stderr.write(`${line}\n`);
      if (refused) {
        const check = devices.map((d) => `'${vfioCommand(target.fix, "check", d)}'`).join(", ");
        io.stderr.write(`vfio passthrough: refused; nothing printed. ${check} says more.\n`);
        return 1;
      }
      const plan = await planPassthrough(target.sysfs, devices, target.fix);
      if (plan.companions.length > 0) {
        io.stderr.write(`note: ${plan.companions.join(", ")} share the IOMMU group and go to this VM or to none\n`);
      }
      io.stdout.write(values.qemu ? `${qemuArguments(plan).map(shellWord).join(" ")}\n` : libvirtHostdevXml(plan));
      return 0;
    },
  };
}

/** `vfio passthrough` on this machine. */
export const passthrough = passthroughCommand();
