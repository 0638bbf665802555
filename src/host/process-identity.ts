/**
 * Who the inspecting process is, from /proc/self/status ("Uid:", "Gid:", "Groups:" lines,
 * proc(5)), so that a fixture can carry the identity of the shell that captured it.
 */

/** Effective ids and supplementary groups. */
export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

/**
 * Parses /proc/self/status; undefined when it lacks the Uid/Gid lines.
 * The second field of "Uid:"/"Gid:" is the effective id, the one permission checks use.
 *
 * @example
 * parseProcessIdentity("Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t27 1000\n");
 */
export function parseProcessIdentity(status: string): ProcessIdentity | undefined {
  const field = (name: string): number[] | undefined => {
    const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
    return line === undefined ? undefined : line.slice(name.length + 1).trim().split(/\s+/).filter((v) => v !== "").map(Number);
  };
  const uid = field("Uid")?.[1];
  const gid = field("Gid")?.[1];
  if (uid === undefined || gid === undefined || Number.isNaN(uid) || Number.isNaN(gid)) return undefined;
  return { uid, gid, groups: field("Groups") ?? [] };
}

/**
 * Whether `who` may open a file for reading and writing, by its mode bits, as the kernel's
 * generic_permission() decides without ACLs: root (CAP_DAC_OVERRIDE) always may; otherwise
 * the owner, group or other bits apply, the first class that matches.
 */
export function mayReadWrite(who: ProcessIdentity, file: { readonly mode: number; readonly uid: number; readonly gid: number }): boolean {
  if (who.uid === 0) return true;
  const bits = who.uid === file.uid ? (file.mode >> 6) & 7 : who.gid === file.gid || who.groups.includes(file.gid) ? (file.mode >> 3) & 7 : file.mode & 7;
  return (bits & 6) === 6;
}
