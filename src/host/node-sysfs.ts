/**
 * The api `Sysfs` over node:fs: the live /sys, or a tree captured by scripts/capture-sysfs.sh.
 */
import { readFile, readdir, readlink, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { join, normalize, sep } from "node:path";
import { errnoValue, VfioSystemError, VfioUsageError } from "../api/errors.js";
import { fsErrorCode, permissionDenied } from "./read-error.js";
import type { Sysfs } from "../api/sysfs.js";

/** Options of {@link nodeSysfs}. */
export interface NodeSysfsOptions {
  /** The sysfs mount point, or a fixture's `sys` directory. Default "/sys". */
  readonly root?: string;
}

/** ENOENT/ENOTDIR mean "not there"; the rest are failures. */
function isAbsent(error: unknown): boolean {
  const code = fsErrorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * A `Sysfs` rooted at `root`. Reads that find nothing resolve to undefined; permission denied
 * rejects with a VfioUsageError coded EACCES (the CLI prints it in one line).
 *
 * Fixtures keep empty directories in git with a `.keep` file; sysfs has no dot files, so
 * `list()` leaves dot files out.
 *
 * @example
 * const sysfs = nodeSysfs({ root: "test/fixtures/sysfs/host-no-iommu/sys" });
 * await sysfs.list("bus/pci/devices"); // ["0000:00:00.0", ...]
 */
export function nodeSysfs(options: NodeSysfsOptions = {}): Sysfs {
  const root = options.root ?? "/sys";
  const resolve = (path: string): string => {
    // A relative path may not climb out of the root (a path from sysfs contents is input).
    const clean = normalize(path);
    if (clean.startsWith("..") || clean.startsWith(sep)) {
      throw new VfioUsageError(`sysfs path '${path}' leaves the sysfs root`, "EINVAL");
    }
    return join(root, clean);
  };
  return {
    description: root,
    async read(path) {
      const full = resolve(path);
      try {
        return await readFile(full, "utf8");
      } catch (error) {
        if (isAbsent(error) || fsErrorCode(error) === "EISDIR") return undefined;
        // Some attributes exist but cannot be read on this device (EIO, ENODEV): not there.
        if (fsErrorCode(error) === "EIO" || fsErrorCode(error) === "ENODEV" || fsErrorCode(error) === "ENXIO") return undefined;
        throw permissionDenied(error, full) ?? error;
      }
    },
    async list(path) {
      const full = resolve(path);
      try {
        return (await readdir(full)).filter((name) => !name.startsWith(".")).sort();
      } catch (error) {
        if (isAbsent(error)) return undefined;
        throw permissionDenied(error, full) ?? error;
      }
    },
    async readlink(path) {
      const full = resolve(path);
      try {
        return await readlink(full);
      } catch (error) {
        if (isAbsent(error) || fsErrorCode(error) === "EINVAL") return undefined;
        throw permissionDenied(error, full) ?? error;
      }
    },
    async write(path, value) {
      const full = resolve(path);
      try {
        await writeFile(full, value);
      } catch (error) {
        const code = fsErrorCode(error) ?? "EIO";
        const errno = (constants.errno as Record<string, number | undefined>)[code] ?? errnoValue("EIO");
        throw new VfioSystemError("sysfs write", errno, "sysfs", full, undefined, { cause: error });
      }
    },
  };
}
