/**
 * The host facts safety checks need that sysfs does not hold: addresses and routes of a
 * network interface, mounted and swap block devices, and who holds a file open. Behind an
 * interface so tests and the emulated machine pass their own; nodeHostProbe reads /proc.
 */
import { readFile, readdir, readlink, realpath } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";

export interface HostProbe {
  readonly description: string;
  /** The IP addresses (v4 and v6) configured on interface `name`. */
  interfaceAddresses(name: string): Promise<string[]>;
  /** How many routes go through interface `name` (IPv4 and IPv6 tables). */
  interfaceRoutes(name: string): Promise<number>;
  /** "major:minor" of every mounted block device. */
  mountedDevices(): Promise<Set<string>>;
  /** Kernel names ("sda2", "dm-1") of block devices in use as swap. */
  swapDevices(): Promise<Set<string>>;
  /** Processes holding `path` open, as "pid (comm)"; those this user may not inspect are not seen. */
  openers(path: string): Promise<string[]>;
}

/** A host with nothing in use: the emulated machine's. */
export const idleHostProbe: HostProbe = {
  description: "idle host",
  interfaceAddresses: async () => [],
  interfaceRoutes: async () => 0,
  mountedDevices: async () => new Set(),
  swapDevices: async () => new Set(),
  openers: async () => [],
};

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return fallback;
  }
}

/** Reads the running host: os.networkInterfaces() and /proc (net/route, net/ipv6_route, self/mountinfo, swaps, <pid>/fd). */
export function nodeHostProbe(proc = "/proc"): HostProbe {
  return {
    description: proc,
    async interfaceAddresses(name) {
      return (networkInterfaces()[name] ?? []).map((a) => a.address);
    },
    async interfaceRoutes(name) {
      // /proc/net/route: "Iface Destination ..." header then one route per line, iface first.
      const v4 = (await readOr(join(proc, "net/route"), "")).split("\n").slice(1).filter((l) => l.split(/\s+/)[0] === name).length;
      // /proc/net/ipv6_route: ten columns, the device name last.
      const v6 = (await readOr(join(proc, "net/ipv6_route"), "")).split("\n").filter((l) => l.trim().split(/\s+/).at(-1) === name).length;
      return v4 + v6;
    },
    async mountedDevices() {
      // /proc/self/mountinfo field 3 is the st_dev of the mounted filesystem, "major:minor".
      const lines = (await readOr(join(proc, "self/mountinfo"), "")).split("\n");
      return new Set(lines.map((l) => l.split(" ")[2]).filter((d): d is string => d !== undefined && d !== ""));
    },
    async swapDevices() {
      const names = new Set<string>();
      for (const line of (await readOr(join(proc, "swaps"), "")).split("\n").slice(1)) {
        const file = line.split(/\s+/)[0];
        if (!file) continue;
        try {
          const real = await realpath(file);
          if (real.startsWith("/dev/")) names.add(real.slice("/dev/".length));
        } catch {
          // A swap file that vanished cannot pin a device.
        }
      }
      return names;
    },
    async openers(path) {
      const found: string[] = [];
      let pids: string[];
      try {
        pids = (await readdir(proc)).filter((p) => /^\d+$/.test(p));
      } catch {
        return found;
      }
      for (const pid of pids) {
        let fds: string[];
        try {
          fds = await readdir(join(proc, pid, "fd"));
        } catch {
          continue; // Another user's process, or gone.
        }
        for (const fd of fds) {
          const target = await readlink(join(proc, pid, "fd", fd)).catch(() => undefined);
          if (target === path) {
            const comm = (await readOr(join(proc, pid, "comm"), "?")).trim();
            found.push(`${pid} (${comm})`);
            break;
          }
        }
      }
      return found;
    },
  };
}
