/**
 * The emulated machine as host inspection sees it (api HostEnvironment): its sysfs, the procfs
 * files host/ reads (kernel command line, interrupts showing remapped IR-* chips, the
 * inspecting process's limits as root), and /dev/vfio with a node per group that has a device
 * bound to vfio-pci — what `vfio ls --emulated` and `vfio check --emulated` read.
 */
import type { DevNode, HostEnvironment } from "../api/host-environment.js";
import type { Machine } from "./machine.js";
import { renderSysfs } from "./sysfs/emulated-sysfs.js";

/** A HostEnvironment over `machine`. */
export function emulatedHostEnvironment(machine: Machine): HostEnvironment {
  const proc: Record<string, () => string> = {
    cmdline: () => "console=ttyS0 intel_iommu=on panic=-1 quiet\n",
    "sys/kernel/osrelease": () => `${machine.kernelRelease}\n`,
    // Interrupt remapping is on (QEMU intel-iommu,intremap=on): the chips are IR-*.
    interrupts: () => [
      "           CPU0       CPU1       ",
      "  0:        146          0  IR-IO-APIC   2-edge      timer",
      "  4:          0          4  IR-IO-APIC   4-edge      ttyS0",
      " 24:          0          0  DMAR-MSI   0-edge      dmar0",
      "",
    ].join("\n"),
    "self/limits": () => "Limit                     Soft Limit           Hard Limit           Units     \nMax locked memory         unlimited            unlimited            bytes     \n",
    "self/status": () => "Name:\tnode\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n",
  };
  return {
    description: `emulated machine (${machine.description})`,
    get sysfs() {
      return renderSysfs(machine);
    },
    async readProc(path) {
      return proc[path]?.();
    },
    async listDevVfio() {
      const nodes: DevNode[] = [...machine.vfioGroups.keys()].sort((a, b) => a - b)
        .map((id) => ({ name: String(id), type: "c" as const, mode: 0o600, uid: 0, gid: 0 }));
      nodes.push({ name: "vfio", type: "c", mode: 0o666, uid: 0, gid: 0 });
      return nodes;
    },
  };
}
