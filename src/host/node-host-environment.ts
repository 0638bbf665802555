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

/**
 * The environment for a `--sysfs DIR` argument. DIR may be a sysfs tree (it has
 * bus/pci/devices) or a fixture directory holding one as `sys/`. For a tree named `sys`, its
 * siblings `proc/` and `dev/` are used (a fixture's, or the live ones for `/sys`); for any other
 * tree, only sysfs is known.
 *
 * Rejects with a VfioUsageError (code ENOTSYSFS) when DIR is neither.
 */
export async function hostEnvironmentForSysfs(dir: string): Promise<HostEnvironment> {
  if (await isDirectory(join(dir, "sys", "bus", "pci", "devices"))) return nodeHostEnvironment({ root: dir });
  if (!(await isDirectory(join(dir, "bus", "pci", "devices")))) {
    const why = (await isDirectory(dir)) ? "has no bus/pci/devices" : "does not exist or is not a directory";
    throw new VfioUsageError(
      `--sysfs ${dir} is not a sysfs tree (it ${why}); give the sysfs mount (/sys) or a directory captured by scripts/capture-sysfs.sh`,
      "ENOTSYSFS",
    );
  }
  if (basename(dir.replace(/\/+$/, "")) === "sys") return nodeHostEnvironment({ root: dirname(dir.replace(/\/+$/, "")) });
  return sysfsOnlyEnvironment(nodeSysfs({ root: dir }));
}
