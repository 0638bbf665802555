/**
 * /proc/<pid>/mountinfo, one mount per line (Documentation/filesystems/proc.rst §3.5):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 * (3) is st_dev of the filesystem ("major:minor"; major 0 for filesystems without a block
 * device: proc, tmpfs, 9p, virtiofs, and btrfs's anonymous devices), (5) the mount point,
 * (9) the filesystem type and (10) the source: a device node path for a block filesystem, the
 * mount tag for 9p and virtiofs. Optional fields (7) end at the lone "-" (8). Paths escape
 * space, tab, newline and backslash as octal (\040).
 */

/** One mounted filesystem. */
export interface Mount {
  readonly mountPoint: string;
  /** "ext4", "9p", "virtiofs", ... */
  readonly fstype: string;
  /** "/dev/vda1", a 9p or virtiofs tag, "proc", ... */
  readonly source: string;
  /** st_dev as "major:minor". */
  readonly device: string;
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mounts of a mountinfo text; malformed lines are skipped (the kernel writes none, and a
 * capture is input).
 *
 * @example
 * parseMountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n");
 * // [{ mountPoint: "/", fstype: "ext4", source: "/dev/vda", device: "254:0" }]
 */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-", 6);
    if (dash < 0 || fields.length < dash + 3 || !/^\d+:\d+$/.test(fields[2] ?? "")) continue;
    mounts.push({ mountPoint: unescape(fields[4]!), fstype: fields[dash + 1]!, source: unescape(fields[dash + 2]!), device: fields[2]! });
  }
  return mounts;
}
