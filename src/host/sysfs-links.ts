/**
 * Where a sysfs entry really lives. The class and bus views (class/net/eth0,
 * class/block/vda, dev/block/254:0, bus/virtio/devices/virtio2) are symlinks into the device
 * tree (devices/pci0000:00/0000:00:03.0/virtio2/net/eth0): its path names every device the
 * entry hangs off, so "does this interface, disk or share belong to that PCI device" is "does
 * its real path pass through the device's directory".
 */
import type { Sysfs } from "../api/sysfs.js";

/** Normalises a/b/../c to a/c; undefined when it climbs out of the root. */
function normalise(components: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const c of components) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) return undefined;
      out.pop();
    } else {
      out.push(c);
    }
  }
  return out;
}

/**
 * The real path of `path` (relative to the sysfs root) as components, following the symlink
 * it names (and the one that leads to, up to a few hops); `path` itself when it is no link.
 * Undefined for a link that leaves the root or loops.
 *
 * @example
 * await realComponents(sysfs, "class/net/eth0");
 * // ["devices", "pci0000:00", "0000:00:03.0", "virtio2", "net", "eth0"]
 */
export async function realComponents(sysfs: Sysfs, path: string): Promise<string[] | undefined> {
  let components = normalise(path.split("/"));
  for (let hop = 0; components !== undefined && hop < 8; hop++) {
    const target = await sysfs.readlink(components.join("/"));
    if (target === undefined) return components;
    if (target.startsWith("/")) return undefined;
    components = normalise([...components.slice(0, -1), ...target.split("/")]);
  }
  return undefined;
}

/** True when the entry at `path` hangs off PCI device `address` (or a device below it). */
export async function passesThrough(sysfs: Sysfs, path: string, address: string): Promise<boolean> {
  const components = await realComponents(sysfs, path);
  // The last component is the entry itself (an interface may not be named like a device).
  return components !== undefined && components.slice(0, -1).includes(address);
}
