/**
 * A test double of the PCI part of sysfs that reacts to writes as Linux 6.1 does
 * (drivers/base/bus.c unbind_store / drivers_probe_store, drivers/pci/pci-sysfs.c
 * driver_override_store): the driver link moves when a test writes unbind or drivers_probe.
 * It implements the api Sysfs interface, so host/ code runs against it unchanged.
 * Not a test file: test files import it.
 */
import { VfioSystemError, errnoValue } from "../../src/api/errors.js";
import type { Sysfs } from "../../src/api/sysfs.js";

export interface FakeDevice {
  readonly address: string;
  readonly group: number;
  /** "0x020000" style class code. */
  readonly classCode?: string;
  /** The driver whose id table matches the device (what binds with no override), or null. */
  readonly nativeDriver?: string | null;
  /** Bound at start: defaults to nativeDriver. */
  readonly driver?: string | null;
  readonly override?: string | null;
  readonly bootVga?: boolean;
  /** "vendor:device", default "8086:100e". */
  readonly id?: string;
}

const errno = (name: "ENODEV" | "ENOENT" | "EBUSY" | "EINVAL" | "EIO" | "ENOTDIR"): number => errnoValue(name);

export class FakeKernelSysfs implements Sysfs {
  readonly description: string;
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();
  readonly dirs = new Set<string>();
  /** Every write, in order, as the kernel received it. */
  readonly writes: { path: string; value: string }[] = [];
  private readonly devices = new Map<string, { native: string | null; override: string | null; classCode: number }>();
  private readonly loaded = new Set<string>();
  /** Writes to these paths fail with the errno (once each). */
  readonly failOnce = new Map<string, number>();
  /** Writes to these paths never complete. */
  readonly hang = new Set<string>();
  /** Drivers whose probe fails: drivers_probe succeeds but nothing binds (as a failed probe() does). */
  readonly probeFails = new Set<string>();

  constructor(devices: readonly FakeDevice[], drivers: readonly string[], description = "fake sysfs") {
    this.description = description;
    this.dirs.add("bus/pci/devices");
    this.dirs.add("bus/pci/drivers");
    this.files.set("bus/pci/drivers_probe", "");
    for (const driver of drivers) this.loadDriver(driver);
    for (const d of devices) this.addDevice(d);
  }

  loadDriver(driver: string): void {
    this.loaded.add(driver);
    this.dirs.add(`bus/pci/drivers/${driver}`);
    this.files.set(`bus/pci/drivers/${driver}/unbind`, "");
    this.files.set(`bus/pci/drivers/${driver}/bind`, "");
  }

  addDevice(d: FakeDevice): void {
    const base = `bus/pci/devices/${d.address}`;
    const classCode = d.classCode ?? "0x020000";
    this.devices.set(d.address, { native: d.nativeDriver ?? null, override: d.override ?? null, classCode: Number.parseInt(classCode, 16) });
    this.dirs.add(base);
    this.files.set(`${base}/class`, `${classCode}\n`);
    const [vendor, device] = (d.id ?? "8086:100e").split(":");
    this.files.set(`${base}/vendor`, `0x${vendor}\n`);
    this.files.set(`${base}/device`, `0x${device}\n`);
    if (d.bootVga !== undefined) this.files.set(`${base}/boot_vga`, d.bootVga ? "1\n" : "0\n");
    this.links.set(`${base}/iommu_group`, `../../../kernel/iommu_groups/${d.group}`);
    this.dirs.add(`kernel/iommu_groups/${d.group}/devices`);
    this.links.set(`kernel/iommu_groups/${d.group}/devices/${d.address}`, `../../../../devices/pci0000:00/${d.address}`);
    const driver = d.driver === undefined ? d.nativeDriver ?? null : d.driver;
    if (driver !== null) this.attach(d.address, driver);
  }

  driverOf(address: string): string | null {
    return this.links.get(`bus/pci/devices/${address}/driver`)?.split("/").pop() ?? null;
  }

  overrideOf(address: string): string | null {
    return this.devices.get(address)?.override ?? null;
  }

  private attach(address: string, driver: string): void {
    this.links.set(`bus/pci/devices/${address}/driver`, `../../../bus/pci/drivers/${driver}`);
    this.links.set(`bus/pci/drivers/${driver}/${address}`, `../../../../devices/pci0000:00/${address}`);
  }

  private detach(address: string): void {
    const driver = this.driverOf(address);
    this.links.delete(`bus/pci/devices/${address}/driver`);
    if (driver) this.links.delete(`bus/pci/drivers/${driver}/${address}`);
  }

  /**
   * A device reached through its group or the device tree (kernel/iommu_groups/N/devices/X/driver,
   * devices/pci0000:00/X/driver) is the same directory as bus/pci/devices/X, as the kernel's links make it.
   */
  private canonical(path: string): string {
    const m = /^(?:kernel\/iommu_groups\/\d+\/devices|devices\/pci0000:00)\/([^/]+)\/(.+)$/.exec(path);
    return m && this.devices.has(m[1]!) ? `bus/pci/devices/${m[1]}/${m[2]}` : path;
  }

  async read(given: string): Promise<string | undefined> {
    const path = this.canonical(given);
    const m = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(path);
    if (m && this.devices.has(m[1]!)) return `${this.devices.get(m[1]!)!.override ?? "(null)"}\n`;
    return this.files.get(path);
  }

  async list(given: string): Promise<readonly string[] | undefined> {
    const path = this.canonical(given);
    const prefix = `${path}/`;
    const names = new Set<string>();
    for (const key of [...this.files.keys(), ...this.links.keys(), ...this.dirs]) {
      if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split("/")[0]!);
    }
    if (names.size === 0 && !this.dirs.has(path)) return undefined;
    return [...names].sort();
  }

  async readlink(path: string): Promise<string | undefined> {
    return this.links.get(this.canonical(path));
  }

  async write(path: string, value: string): Promise<void> {
    this.writes.push({ path, value });
    if (this.hang.has(path)) return new Promise<void>(() => {});
    const failure = this.failOnce.get(path);
    if (failure !== undefined) {
      this.failOnce.delete(path);
      throw new VfioSystemError("sysfs write", failure, "sysfs", path);
    }
    const text = value.replace(/\n$/, "");
    let m: RegExpExecArray | null;
    if ((m = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(path)) && this.devices.has(m[1]!)) {
      // driver_set_override: an empty string (after the newline is dropped) clears it.
      this.devices.get(m[1]!)!.override = text === "" ? null : text;
      return;
    }
    if ((m = /^bus\/pci\/drivers\/([^/]+)\/unbind$/.exec(path)) && this.loaded.has(m[1]!)) {
      // unbind_store: -ENODEV unless the device exists and is bound to this driver.
      if (!this.devices.has(text) || this.driverOf(text) !== m[1]) throw new VfioSystemError("sysfs write", errno("ENODEV"), "sysfs", path);
      this.detach(text);
      return;
    }
    if (path === "bus/pci/drivers_probe") {
      // drivers_probe_store: -ENODEV for no such device; otherwise success, bound or not.
      const device = this.devices.get(text);
      if (!device) throw new VfioSystemError("sysfs write", errno("ENODEV"), "sysfs", path);
      if (this.driverOf(text) !== null) return;
      // pci_match_device: with driver_override set, only that driver matches.
      const candidate = device.override ?? device.native;
      if (candidate === null || !this.loaded.has(candidate) || this.probeFails.has(candidate)) return;
      // vfio_pci_probe refuses anything but a normal header (bridges): -EINVAL, so nothing binds.
      const base = device.classCode >> 8;
      if (candidate === "vfio-pci" && (base === 0x0604 || base === 0x0607)) return;
      this.attach(text, candidate);
      return;
    }
    throw new VfioSystemError("sysfs write", this.files.has(path) ? errno("EIO") : errno("ENOENT"), "sysfs", path);
  }
}
