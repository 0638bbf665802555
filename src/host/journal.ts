/**
 * The binding journal: for every device vfio-ts moved, the driver and driver_override it had
 * before, so `vfio restore` (and a rollback) can put it back. An entry is written before the
 * first sysfs write for that device and removed only once the device is back.
 *
 * The default file lives under /run, a tmpfs: a reboot undoes non-persistent binds, and it
 * clears the journal with them.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { constants } from "node:os";
import { VfioProtocolError, VfioSystemError, errnoValue } from "../api/errors.js";
import type { VfioOp } from "../api/op.js";
import { fsErrorCode } from "./read-error.js";

/** The default journal file. */
export const DEFAULT_JOURNAL_PATH = "/run/vfio-ts/journal.json";

export interface JournalEntry {
  readonly address: string;
  readonly group: number;
  /** The driver before vfio-ts moved the device, or null when it had none. */
  readonly previousDriver: string | null;
  /** driver_override before, or null when unset. */
  readonly previousOverride: string | null;
  /** The driver vfio-ts bound it to. */
  readonly boundTo: string;
  /** When, ISO 8601. */
  readonly time: string;
  /** The sysfs it happened on (Sysfs.description), so a fixture's entries are not applied to /sys. */
  readonly sysfs: string;
}

/** Where entries are kept. */
export interface Journal {
  /** A description for messages: the file path, or "memory". */
  readonly description: string;
  entries(): Promise<JournalEntry[]>;
  /** Adds an entry, replacing one for the same address and sysfs. */
  record(entry: JournalEntry): Promise<void>;
  /** Removes the entry for `address` on `sysfs`, if there is one. */
  remove(address: string, sysfs: string): Promise<void>;
}

function isEntry(value: unknown): value is JournalEntry {
  const e = value as Record<string, unknown>;
  const nullableString = (v: unknown): boolean => v === null || typeof v === "string";
  return typeof e === "object" && e !== null && typeof e["address"] === "string" && Number.isInteger(e["group"])
    && nullableString(e["previousDriver"]) && nullableString(e["previousOverride"]) && typeof e["boundTo"] === "string"
    && typeof e["time"] === "string" && typeof e["sysfs"] === "string";
}

/** Parses a journal file's text. @throws VfioProtocolError naming `path` when it is not a journal. */
export function parseJournal(text: string, path: string): JournalEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new VfioProtocolError(`${path} is not JSON; move it aside to start a new journal`, "journal");
  }
  const entries = (data as { version?: unknown; entries?: unknown }).entries;
  if ((data as { version?: unknown }).version !== 1 || !Array.isArray(entries) || !entries.every(isEntry)) {
    throw new VfioProtocolError(`${path} is not a version 1 vfio-ts journal`, "journal");
  }
  return entries;
}

/**
 * A failed read or write of the journal file as a VfioSystemError naming the file, with what
 * to do for the usual causes (the CLI prints it in one line instead of a stack trace).
 */
function journalError(op: VfioOp, path: string, error: unknown): VfioSystemError {
  const code = fsErrorCode(error) ?? "EIO";
  const errno = (constants.errno as Record<string, number | undefined>)[code] ?? errnoValue("EIO");
  const hint = code === "EISDIR" ? "a directory, not a journal file; give --journal FILE"
    : code === "EACCES" || code === "EPERM" ? "permission denied; run as root (binding needs root anyway)"
    : code === "ENOTDIR" ? "a path component is a file, not a directory; give --journal FILE"
    : code === "EROFS" ? "a read-only file system; give --journal FILE on a writable one"
    : undefined;
  return new VfioSystemError(op, errno, "syscall", path, hint, { cause: error });
}

/**
 * A journal in a JSON file, replaced atomically (write, then rename) so a crash leaves the
 * old or the new journal, never half of one.
 */
export function fileJournal(path: string = DEFAULT_JOURNAL_PATH): Journal {
  const read = async (): Promise<JournalEntry[]> => {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (fsErrorCode(error) === "ENOENT") return [];
      throw journalError("journal read", path, error);
    }
    return parseJournal(text, path);
  };
  const write = async (entries: readonly JournalEntry[]): Promise<void> => {
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify({ version: 1, entries }, null, 2)}\n`, { mode: 0o600 });
      await rename(temporary, path);
    } catch (error) {
      throw journalError("journal write", path, error);
    }
  };
  return {
    description: path,
    entries: read,
    async record(entry) {
      const others = (await read()).filter((e) => !(e.address === entry.address && e.sysfs === entry.sysfs));
      await write([...others, entry]);
    },
    async remove(address, sysfs) {
      const entries = await read();
      const kept = entries.filter((e) => !(e.address === address && e.sysfs === sysfs));
      if (kept.length !== entries.length) await write(kept);
    },
  };
}

/** A journal in memory, for tests and for callers that keep their own records. */
export function memoryJournal(initial: readonly JournalEntry[] = []): Journal {
  let entries = [...initial];
  return {
    description: "memory",
    entries: async () => [...entries],
    async record(entry) {
      entries = [...entries.filter((e) => !(e.address === entry.address && e.sysfs === entry.sysfs)), entry];
    },
    async remove(address, sysfs) {
      entries = entries.filter((e) => !(e.address === address && e.sysfs === sysfs));
    },
  };
}
