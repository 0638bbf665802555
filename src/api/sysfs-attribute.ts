/**
 * Parsing of single sysfs attribute values. sysfs contents are hostile input (docs/architecture.md): a
 * malformed value rejects with a VfioProtocolError naming the path.
 */
import { VfioProtocolError } from "./errors.js";
import type { Sysfs } from "./sysfs.js";

/** A hex attribute such as `vendor` ("0x8086\n"), or undefined when the file is absent. */
export async function readHex(sysfs: Sysfs, path: string): Promise<number | undefined> {
  const text = await sysfs.read(path);
  if (text === undefined) return undefined;
  const match = /^0x([0-9a-fA-F]+)$/.exec(text.trim());
  if (!match) throw new VfioProtocolError(`${sysfs.description}/${path}: expected a hex number, got '${text.trim()}'`, path);
  return parseInt(match[1]!, 16);
}

/** A decimal attribute such as `numa_node` ("-1\n"), or undefined when absent. */
export async function readDecimal(sysfs: Sysfs, path: string): Promise<number | undefined> {
  const text = await sysfs.read(path);
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) throw new VfioProtocolError(`${sysfs.description}/${path}: expected a number, got '${trimmed}'`, path);
  return Number(trimmed);
}

/** A text attribute, trimmed; undefined when absent. */
export async function readText(sysfs: Sysfs, path: string): Promise<string | undefined> {
  return (await sysfs.read(path))?.trim();
}

/** The last component of a symlink's target ("../../../bus/pci/drivers/e1000" → "e1000"). */
export async function readLinkName(sysfs: Sysfs, path: string): Promise<string | undefined> {
  const target = await sysfs.readlink(path);
  if (target === undefined) return undefined;
  const name = target.replace(/\/+$/, "").split("/").pop();
  if (!name) throw new VfioProtocolError(`${sysfs.description}/${path}: symlink to '${target}' names nothing`, path);
  return name;
}
