/**
 * A HostEnvironment that knows only a sysfs tree: a bare tree given with --sysfs, or the
 * emulated machine's rendered sysfs (`vfio ls --emulated`). procfs and /dev/vfio read as absent,
 * so interrupt remapping, /dev/vfio access and memlock are reported as unknown.
 */
import type { HostEnvironment } from "../api/host-environment.js";
import type { Sysfs } from "../api/sysfs.js";

/**
 * Wraps `sysfs` as an environment with nothing beyond it.
 *
 * @example
 * const inventory = await readInventory(sysfsOnlyEnvironment(machine.sysfs()));
 */
export function sysfsOnlyEnvironment(sysfs: Sysfs): HostEnvironment {
  return {
    description: sysfs.description,
    sysfs,
    readProc: async () => undefined,
    listDevVfio: async () => undefined,
  };
}
