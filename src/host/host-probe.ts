/**
 * The host facts safety checks need that sysfs does not hold: addresses and routes of a
 * network interface, mounted filesystems and swap, and who holds a file open. Behind an
 * interface so tests and the emulated machine pass their own. nodeHostProbe reads the running
 * machine; capturedHostProbe the proc/ directory of a capture (scripts/capture-sysfs.sh).
 */
import { readFile, readdir, readlink, realpath, stat } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { parseMountinfo, type Mount } from "./mountinfo.js";

export type { Mount } from "./mountinfo.js";

/** A mount with, where it could be found, the block device its source node names. */
export interface ProbedMount extends Mount {
  /** "major:minor" of the source when it is a block device node (btrfs: its st_dev is not), else undefined. */
  readonly sourceDevice?: string;
}

export interface HostProbe {
  readonly description: string;
  /** The IP addresses (v4 and v6) configured on interface `name`. */
  interfaceAddresses(name: string): Promise<string[]>;
  /** How many routes go through interface `name` (IPv4 and IPv6 tables). */
  interfaceRoutes(name: string): Promise<number>;
  /** Every mounted filesystem (/proc/self/mountinfo). */
  mounts(): Promise<ProbedMount[]>;
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
  mounts: async () => [],
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

/** "fd000000000000000000000000000002" → "fd00:0000:...:0002" (the form /proc/net/if_inet6 leaves out). */
function ipv6(hex: string): string {
  return hex.match(/.{4}/g)!.join(":").replace(/(^|:)0{1,3}(?=[0-9a-f])/g, "$1");
}

/** /proc/net/if_inet6: "address ifindex prefixlen scope flags name" per address (net/ipv6/addrconf.c if6_seq_show). */
function inet6Addresses(text: string, name: string): string[] {
  return text.split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 6 && f[5] === name && /^[0-9a-f]{32}$/.test(f[0]!)).map((f) => ipv6(f[0]!));
}

/** The probe over a proc directory; `live` adds what only the running machine can tell. */
function procProbe(proc: string, live: boolean): HostProbe {
  return {
    description: proc,
    async interfaceAddresses(name) {
      // Live: IPv4 and IPv6 from the kernel (getifaddrs). A capture has only procfs, where
      // IPv6 addresses are listed per interface and IPv4 ones are not (their routes are).
      if (live) return (networkInterfaces()[name] ?? []).map((a) => a.address);
      return inet6Addresses(await readOr(join(proc, "net/if_inet6"), ""), name);
    },
    async interfaceRoutes(name) {
      // /proc/net/route: "Iface Destination ..." header then one route per line, iface first.
      const v4 = (await readOr(join(proc, "net/route"), "")).split("\n").slice(1).filter((l) => l.split(/\s+/)[0] === name).length;
      // /proc/net/ipv6_route: ten columns, the device name last.
      const v6 = (await readOr(join(proc, "net/ipv6_route"), "")).split("\n").filter((l) => l.trim().split(/\s+/).at(-1) === name).length;
      return v4 + v6;
    },
    async mounts() {
      const mounts: ProbedMount[] = parseMountinfo(await readOr(join(proc, "self/mountinfo"), ""));
      if (!live) return mounts;
      return Promise.all(mounts.map(async (m) => {
        if (!m.source.startsWith("/dev/")) return m;
        const s = await stat(m.source).catch(() => undefined);
        // st_rdev of a block node: major = bits 8-19 (plus 32-43), minor = bits 0-7 and 20-31 (new_decode_dev).
        if (s === undefined || !s.isBlockDevice()) return m;
        const major = Math.floor(s.rdev / 256) & 0xfff;
        const minor = (s.rdev & 0xff) | (Math.floor(s.rdev / 0x100000) & 0xfff00);
        return { ...m, sourceDevice: `${major}:${minor}` };
      }));
    },
    async swapDevices() {
      const names = new Set<string>();
      for (const line of (await readOr(join(proc, "swaps"), "")).split("\n").slice(1)) {
        const file = line.split(/\s+/)[0];
        if (!file) continue;
        if (!live) {
          // A capture cannot follow /dev links: the kernel writes the node's own path.
          if (file.startsWith("/dev/")) names.add(file.slice("/dev/".length));
          continue;
        }
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

/** Reads the running host: os.networkInterfaces() and /proc (net/route, net/ipv6_route, self/mountinfo, swaps, <pid>/fd). */
export function nodeHostProbe(proc = "/proc"): HostProbe {
  return procProbe(proc, true);
}

/**
 * Reads a captured machine's proc/ (scripts/capture-sysfs.sh): mountinfo, swaps, routes,
 * IPv6 addresses, and the processes that held /dev/vfio open. Nothing of the running machine.
 */
export function capturedHostProbe(proc: string): HostProbe {
  return procProbe(proc, false);
}
