/**
 * The few sysfs operations host inspection and binding need, so that host/ reads a real /sys,
 * a captured fixture, or the emulated machine's rendered tree through one interface.
 * Paths are relative to the sysfs root ("bus/pci/devices/0000:00:03.0/vendor").
 */
export interface Sysfs {
  /** A description for messages: "/sys", a fixture directory, "emulated machine". */
  readonly description: string;
  /** File contents, or undefined when the file does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Directory entries, or undefined when the directory does not exist. */
  list(path: string): Promise<readonly string[] | undefined>;
  /** A symlink's target as written (relative), or undefined when it is not a symlink. */
  readlink(path: string): Promise<string | undefined>;
  /** Writes an attribute (driver_override, unbind, drivers_probe). Rejects with the errno the write got. */
  write(path: string, value: string): Promise<void>;
}
