/**
 * A Sysfs (api/sysfs.ts) over a directory, by default the real /sys: what the kernel and UIO
 * backends read their devices' attributes through. host/ has the full-featured reader; the
 * backends may not import host/ (layer rules), so this is the minimum they share.
 */
import { readFile, readdir, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Sysfs } from "../api/sysfs.js";
import { VfioSystemError } from "../api/errors.js";

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EINVAL";
}

/** A Sysfs over a directory (default "/sys"). */
export function directorySysfs(root = "/sys"): Sysfs {
  const at = (p: string): string => path.join(root, p);
  return {
    description: root,
    async read(p) {
      try {
        return await readFile(at(p), "utf8");
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async list(p) {
      try {
        return (await readdir(at(p))).sort();
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async readlink(p) {
      try {
        return await readlink(at(p));
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async write(p, value) {
      try {
        await writeFile(at(p), value);
      } catch (error) {
        const errno = -((error as NodeJS.ErrnoException).errno ?? -5);
        throw new VfioSystemError("sysfs write", errno, "sysfs", at(p), undefined, { cause: error });
      }
    },
  };
}
