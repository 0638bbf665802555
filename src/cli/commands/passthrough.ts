/**
 * `vfio passthrough <device…> --qemu | --libvirt`: prints the QEMU options or libvirt
 * `<hostdev>` XML for devices already bound by `vfio bind`, after checking the group can work.
 */
import { libvirtHostdevXml, planPassthrough, qemuArguments } from "../../host/passthrough.js";
import { checkGroupsClosed } from "../../host/safety-checks.js";
import { defaultBindingDeps, type BindingDeps } from "../binding-deps.js";
import type { Command } from "../command.js";
import { toJson } from "../describe-device.js";
import { parseCommandArgs, usageError } from "../parse-args.js";

const usage = `usage: vfio passthrough <device>... (--qemu | --libvirt | --json) [--force] [--sysfs <dir>]

Prints what to give QEMU (-device vfio-pci,host=...) or libvirt (<hostdev> elements, managed='no')
to pass the devices to a VM. Checks first that each device is on vfio-pci ('vfio bind'), that
its IOMMU group is viable, and that no other VFIO user has the group open (--force skips the
last). Other endpoints of the same groups are named on stderr: no other VM can have them.

  --qemu           print QEMU -device options
  --libvirt        print libvirt <hostdev> XML
  --json           print both, with the groups and their other members, as JSON
  --force          go on although a VFIO user has a group open
  --sysfs <dir>    read this sysfs tree instead of /sys (or a capture holding sys/)`;

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord(word: string): string {
  return /^[\w,=:./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
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
        json: { type: "boolean" },
      }, { min: 1, max: Infinity, name: "device" });
      const json = values.json === true;
      if ([values.qemu, values.libvirt, json].filter(Boolean).length !== 1) throw usageError("passthrough", "choose one of --qemu, --libvirt and --json");
      const sysfs = await deps.openSysfs(values.sysfs);
      const plan = await planPassthrough(sysfs, positionals);
      const open = await checkGroupsClosed(deps.probe, plan.groups, deps.devRoot);
      if (json) {
        const refused = open.length > 0 && !values.force;
        io.stdout.write(toJson({
          devices: plan.devices, groups: plan.groups, companions: plan.companions, findings: open, refused,
          ...(refused ? {} : { qemu: qemuArguments(plan), libvirt: libvirtHostdevXml(plan) }),
        }));
        return refused ? 1 : 0;
      }
      for (const finding of open) io.stderr.write(`${values.force ? "warning" : "refused"}: ${finding.message}\n`);
      if (open.length > 0 && !values.force) return 1;
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
