/**
 * `vfio passthrough <device…> --qemu | --libvirt`: prints the QEMU options or libvirt
 * `<hostdev>` XML for devices already bound by `vfio bind`, after checking the group can work.
 */
import { parseArgs } from "node:util";
import { VfioUsageError } from "../../api/errors.js";
import { libvirtHostdevXml, planPassthrough, qemuArguments } from "../../host/passthrough.js";
import { checkGroupsClosed } from "../../host/safety-checks.js";
import { defaultBindingDeps, type BindingDeps } from "../binding-deps.js";
import type { Command } from "../command.js";

const usage = `usage: vfio passthrough <device>... (--qemu | --libvirt) [--force] [--sysfs <dir>]

Prints what to give QEMU (-device vfio-pci,host=...) or libvirt (<hostdev> elements, managed='no')
to pass the devices to a VM. Checks first that each device is on vfio-pci ('vfio bind'), that
its IOMMU group is viable, and that no other VFIO user has the group open (--force skips the
last). Other endpoints of the same groups are named on stderr: no other VM can have them.`;

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord(word: string): string {
  return /^[\w,=:./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

export function passthroughCommand(deps: BindingDeps = defaultBindingDeps): Command {
  return {
    name: "passthrough",
    summary: "print QEMU options or libvirt XML to pass bound devices to a VM",
    usage,
    async run(args, io) {
      const { values, positionals } = (() => {
        try {
          return parseArgs({
            args: [...args], allowPositionals: true, strict: true,
            options: { qemu: { type: "boolean" }, libvirt: { type: "boolean" }, force: { type: "boolean" }, sysfs: { type: "string" } },
          });
        } catch (error) {
          throw new VfioUsageError((error as Error).message.split("\n")[0]!);
        }
      })();
      if (values.qemu === values.libvirt) throw new VfioUsageError("choose one of --qemu and --libvirt");
      const sysfs = deps.openSysfs(values.sysfs);
      const plan = await planPassthrough(sysfs, positionals);
      const open = await checkGroupsClosed(deps.probe, plan.groups, deps.devRoot);
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

export const passthrough = passthroughCommand();
