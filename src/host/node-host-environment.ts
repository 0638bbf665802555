/**
 * The api `HostEnvironment` over node:fs: a live machine ("/") or a fixture directory laid
 * out by scripts/capture-sysfs.sh (sys/, proc/, dev/vfio.list).
 */
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { VfioUsageError } from "../api/errors.js";
import type { DevNode, HostEnvironment } from "../api/host-environment.js";
import { nodeSysfs } from "./node-sysfs.js";
import { sysfsOnlyEnvironment } from "./sysfs-only-environment.js";
import { fsErrorCode, permissionDenied } from "./read-error.js";
import { parseDevVfioList } from "./dev-vfio-list.js";

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = fsErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
    throw permissionDenied(error, path) ?? error;
  }
}

async function statDevVfio(dir: string): Promise<readonly DevNode[] | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = fsErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw permissionDenied(error, dir) ?? error;
  }
  const nodes: DevNode[] = [];
  for (const name of names.sort()) {
    const s = await lstat(join(dir, name));
    const type = s.isCharacterDevice() ? "c" : s.isDirectory() ? "d" : "-";
    nodes.push({ name, type, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid });
  }
  return nodes;
}

/** Options of {@link nodeHostEnvironment}. */
export interface NodeHostEnvironmentOptions {
  /** The machine's root: "/" for the live machine, or a fixture directory. Default "/". */
  readonly root?: string;
}

/**
 * A `HostEnvironment` whose sysfs is `<root>/sys`, procfs `<root>/proc`, and /dev/vfio either
 * `<root>/dev/vfio` (live) or the listing `<root>/dev/vfio.list` that a fixture carries
 * (device nodes cannot be committed).
 *
 * @example
 * const env = nodeHostEnvironment(); // this machine
 * const fixture = nodeHostEnvironment({ root: "test/fixtures/sysfs/host-no-iommu" });
 */
export function nodeHostEnvironment(options: NodeHostEnvironmentOptions = {}): HostEnvironment {
  const root = options.root ?? "/";
  return {
    description: root,
    sysfs: nodeSysfs({ root: join(root, "sys") }),
    readProc: (path) => readOptional(join(root, "proc", path)),
    async listDevVfio() {
      const listing = await readOptional(join(root, "dev", "vfio.list"));
      if (listing !== undefined) return parseDevVfioList(listing, join(root, "dev", "vfio.list"));
      return statDevVfio(join(root, "dev", "vfio"));
    },
  };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    const denied = permissionDenied(error, path);
    if (denied) throw denied;
    return false;
  }
}

/** Where a `--sysfs DIR` argument leads: the sysfs tree, and the machine root around it if known. */
export interface SysfsRoot {
  /** The sysfs tree (it has bus/pci/devices): DIR itself, or DIR/sys. */
  readonly sys: string;
  /** The directory that holds `sys/` beside `proc/` and `dev/` (a capture, or "/"), when there is one. */
  readonly machine?: string;
}

/**
 * The one meaning of `--sysfs DIR` for every command: DIR may be a sysfs tree (it has
 * bus/pci/devices) or a directory holding one as `sys/` (what scripts/capture-sysfs.sh
 * writes). For a tree named `sys`, its parent is the machine root (a capture's, or "/" for
 * /sys); for any other tree, only sysfs is known.
 *
 * Rejects with a VfioUsageError (code ENOTSYSFS) when DIR is neither.
 *
 * @example
 * await resolveSysfsRoot("test/fixtures/sysfs/host-no-iommu");
 * // { sys: "test/fixtures/sysfs/host-no-iommu/sys", machine: "test/fixtures/sysfs/host-no-iommu" }
 */
export async function resolveSysfsRoot(dir: string): Promise<SysfsRoot> {
  if (dir === "") throw new VfioUsageError("--sysfs needs a directory: the sysfs mount (/sys) or a capture", "ENOTSYSFS");
  const clean = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  if (await isDirectory(join(clean, "sys", "bus", "pci", "devices"))) return { sys: join(clean, "sys"), machine: clean };
  if (!(await isDirectory(join(clean, "bus", "pci", "devices")))) {
    const why = (await isDirectory(clean)) ? "has no bus/pci/devices" : "does not exist or is not a directory";
    throw new VfioUsageError(
      `--sysfs ${dir} is not a sysfs tree (it ${why}); give the sysfs mount (/sys) or a directory captured by scripts/capture-sysfs.sh`,
      "ENOTSYSFS",
    );
  }
  return basename(clean) === "sys" ? { sys: clean, machine: dirname(clean) } : { sys: clean };
}

/**
 * The environment for a `--sysfs DIR` argument, as {@link resolveSysfsRoot} reads DIR: the
 * machine's sysfs, procfs and /dev when the machine root is known, else sysfs alone.
 *
 * Rejects with a VfioUsageError (code ENOTSYSFS) when DIR is not a sysfs tree.
 */
export async function hostEnvironmentForSysfs(dir: string): Promise<HostEnvironment> {
  const { sys, machine } = await resolveSysfsRoot(dir);
  return machine === undefined ? sysfsOnlyEnvironment(nodeSysfs({ root: sys })) : nodeHostEnvironment({ root: machine });
}
