/**
 * Builds a machine directory in the layout scripts/capture-sysfs.sh writes (sys/, proc/,
 * dev/vfio.list), with the same relative symlinks as a real /sys, for tests of scenarios no
 * captured fixture covers (SR-IOV, interrupt remapping off, a non-root user).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

export interface TreeDevice {
  readonly address: string;
  /** The parent bridge's address; the device then sits in its directory, as in /sys/devices. */
  readonly parent?: string;
  readonly vendor: number;
  readonly device: number;
  readonly classCode: number;
  readonly driver?: string;
  readonly group?: number;
  readonly numaNode?: number;
  readonly bootVga?: boolean;
  /** reset_method's contents ("flr bus"); omitted: no such file, as Linux 5.15+ shows a device it cannot reset. */
  readonly resetMethod?: string;
  readonly physfn?: string;
}

export interface TreeSpec {
  readonly devices: readonly TreeDevice[];
  readonly groupType?: string;
  /** Groups made by VFIO's no-IOMMU mode (their `name` is "vfio-noiommu"). */
  readonly noIommu?: boolean;
  readonly iommuUnits?: readonly { name: string; ecap?: string }[];
  readonly acpiTables?: readonly string[];
  readonly cmdline?: string;
  /** proc/sys/kernel/osrelease; omitted: not known. */
  readonly osrelease?: string;
  readonly interrupts?: string;
  readonly status?: string;
  readonly limits?: string;
  /** dev/vfio.list contents; omitted: no /dev/vfio. */
  readonly devVfio?: string;
  readonly extraDrivers?: readonly string[];
  readonly allowUnsafeInterrupts?: boolean;
}

const hex = (v: number, digits: number) => `0x${v.toString(16).padStart(digits, "0")}`;

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

/** Writes `spec` under a new temporary directory and returns it; `t.after(cleanup)`. */
export async function buildMachineTree(spec: TreeSpec): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "vfio-ts-tree-"));
  const sys = join(root, "sys");
  const devDir = new Map<string, string>();
  for (const d of spec.devices) {
    const parentDir = d.parent === undefined ? join(sys, "devices", "pci0000:00") : devDir.get(d.parent)!;
    devDir.set(d.address, join(parentDir, d.address));
  }
  await mkdir(join(sys, "kernel", "iommu_groups"), { recursive: true });
  await mkdir(join(sys, "class", "iommu"), { recursive: true });
  for (const name of spec.extraDrivers ?? []) await mkdir(join(sys, "bus", "pci", "drivers", name), { recursive: true });
  for (const d of spec.devices) {
    const dir = devDir.get(d.address)!;
    await put(join(dir, "vendor"), `${hex(d.vendor, 4)}\n`);
    await put(join(dir, "device"), `${hex(d.device, 4)}\n`);
    await put(join(dir, "class"), `${hex(d.classCode, 6)}\n`);
    await put(join(dir, "numa_node"), `${d.numaNode ?? -1}\n`);
    await put(join(dir, "driver_override"), "(null)\n");
    if (d.bootVga !== undefined) await put(join(dir, "boot_vga"), d.bootVga ? "1\n" : "0\n");
    // The kernel never shows an empty reset_method (it hides the attribute instead).
    if (d.resetMethod !== undefined && d.resetMethod.trim() === "") throw new Error(`${d.address}: Linux shows no empty reset_method; leave resetMethod out`);
    if (d.resetMethod !== undefined) await put(join(dir, "reset_method"), `${d.resetMethod}\n`);
    await link(join(sys, "bus", "pci", "devices", d.address), dir);
    if (d.driver !== undefined) {
      await mkdir(join(sys, "bus", "pci", "drivers", d.driver), { recursive: true });
      await link(join(dir, "driver"), join(sys, "bus", "pci", "drivers", d.driver));
    }
    if (d.group !== undefined) {
      const g = join(sys, "kernel", "iommu_groups", String(d.group));
      await put(join(g, "type"), `${spec.groupType ?? "DMA"}\n`);
      if (spec.noIommu === true) await put(join(g, "name"), "vfio-noiommu\n");
      await link(join(g, "devices", d.address), dir);
      await link(join(dir, "iommu_group"), g);
    }
    if (d.physfn !== undefined) {
      const pf = devDir.get(d.physfn)!;
      await link(join(dir, "physfn"), pf);
      const n = spec.devices.filter((x) => x.physfn === d.physfn).indexOf(d);
      await link(join(pf, `virtfn${n}`), dir);
    }
  }
  for (const unit of spec.iommuUnits ?? []) {
    const dir = join(sys, "devices", "virtual", "iommu", unit.name);
    if (unit.ecap !== undefined) await put(join(dir, "intel-iommu", "ecap"), `${unit.ecap}\n`);
    else await mkdir(dir, { recursive: true });
    await link(join(sys, "class", "iommu", unit.name), dir);
  }
  for (const table of spec.acpiTables ?? []) await put(join(sys, "firmware", "acpi", "tables", table), "");
  if (spec.allowUnsafeInterrupts !== undefined) {
    await put(join(sys, "module", "vfio_iommu_type1", "parameters", "allow_unsafe_interrupts"), spec.allowUnsafeInterrupts ? "Y\n" : "N\n");
  }
  if (spec.cmdline !== undefined) await put(join(root, "proc", "cmdline"), `${spec.cmdline}\n`);
  if (spec.interrupts !== undefined) await put(join(root, "proc", "interrupts"), spec.interrupts);
  if (spec.osrelease !== undefined) await put(join(root, "proc", "sys", "kernel", "osrelease"), `${spec.osrelease}\n`);
  await put(join(root, "proc", "self", "status"), spec.status ?? "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n");
  await put(join(root, "proc", "self", "limits"), spec.limits ?? "Max locked memory         8388608              8388608              bytes\n");
  if (spec.devVfio !== undefined) await put(join(root, "dev", "vfio.list"), spec.devVfio);
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Interrupt lines with remapped chips, as a VT-d guest with intremap=on shows them. */
export const REMAPPED_INTERRUPTS = "           CPU0       CPU1\n  0:         40          0   IR-IO-APIC    2-edge      timer\n 24:          0          0   IR-PCI-MSI-0000:00:02.0    0-edge      eth0\n";
/** The same without remapping. */
export const PLAIN_INTERRUPTS = "           CPU0       CPU1\n  0:         40          0   IO-APIC    2-edge      timer\n 24:          0          0   PCI-MSI-0000:00:02.0    0-edge      eth0\n";

/**
 * The topology the test guest has (scripts/guest/README.md) (q35 + intel-iommu): edu alone in a group, a conventional
 * PCI bridge with edu and e1000 behind it in one group, the ICH9 functions in one group.
 */
export const GUEST_LIKE: TreeSpec = {
  devices: [
    { address: "0000:00:00.0", vendor: 0x8086, device: 0x29c0, classCode: 0x060000, group: 0 },
    { address: "0000:00:03.0", vendor: 0x1234, device: 0x11e8, classCode: 0xff0000, group: 1, driver: "vfio-pci" },
    { address: "0000:00:04.0", vendor: 0x1b36, device: 0x0001, classCode: 0x060400, group: 2 },
    { address: "0000:01:01.0", parent: "0000:00:04.0", vendor: 0x1234, device: 0x11e8, classCode: 0xff0000, group: 2 },
    { address: "0000:01:02.0", parent: "0000:00:04.0", vendor: 0x8086, device: 0x100e, classCode: 0x020000, group: 2, driver: "e1000" },
  ],
  iommuUnits: [{ name: "dmar0", ecap: "f0205e" }],
  acpiTables: ["APIC", "DMAR", "FACP"],
  cmdline: "console=ttyS0 intel_iommu=on panic=-1",
  osrelease: "6.1.0-56-amd64",
  interrupts: REMAPPED_INTERRUPTS,
  devVfio: "1 c 600 0 0\nvfio c 666 0 0\n",
  extraDrivers: ["pcieport"],
};
