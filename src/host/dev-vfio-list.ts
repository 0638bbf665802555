/**
 * The `dev/vfio.list` format of a fixture: one line per /dev/vfio entry,
 * `name type mode uid gid` (type c, d or -; mode in octal), as scripts/capture-sysfs.sh writes.
 */
import { VfioProtocolError } from "../api/errors.js";
import type { DevNode } from "../api/host-environment.js";

/**
 * Parses a `dev/vfio.list`. Rejects malformed lines naming the file and line (fixture
 * contents are input).
 *
 * @example
 * parseDevVfioList("0 c 600 0 0\nvfio c 666 0 0\n", "dev/vfio.list");
 */
export function parseDevVfioList(text: string, path: string): readonly DevNode[] {
  const nodes: DevNode[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    const match = /^(\S+) ([cd-]) ([0-7]{1,4}) (\d+) (\d+)$/.exec(line.trim());
    if (!match) throw new VfioProtocolError(`${path}:${index + 1}: expected 'name type mode uid gid', got '${line}'`, "dev/vfio.list");
    const [, name, type, mode, uid, gid] = match as unknown as [string, string, "c" | "d" | "-", string, string, string];
    nodes.push({ name, type, mode: parseInt(mode, 8), uid: Number(uid), gid: Number(gid) });
  });
  return nodes;
}
