/** Shared by the bind/restore command tests: a fake machine and captured output. Not a test file. */
import { idleHostProbe, type HostProbe } from "../../../src/host/host-probe.js";
import { memoryJournal, type Journal } from "../../../src/host/journal.js";
import type { BindingDeps } from "../../../src/cli/binding-deps.js";
import { nodeConfigFs } from "../../../src/host/persist.js";
import { sysfsOnlyEnvironment } from "../../../src/host/sysfs-only-environment.js";
import type { CommandIo } from "../../../src/cli/command.js";
import { FakeKernelSysfs } from "../../host/fake-kernel-sysfs.js";

export function fakeMachine(): FakeKernelSysfs {
  return new FakeKernelSysfs([
    { address: "0000:00:03.0", group: 3, classCode: "0x00ff00", nativeDriver: null },
    { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: null },
    { address: "0000:01:01.0", group: 4, classCode: "0x00ff00", nativeDriver: null },
    { address: "0000:01:02.0", group: 4, classCode: "0x020000", nativeDriver: "e1000" },
  ], ["e1000", "vfio-pci"], "/fake/sys");
}

export function deps(
  sysfs: FakeKernelSysfs, journal: Journal = memoryJournal(), probe: HostProbe = idleHostProbe,
  config?: { root: string; ran: string[][] },
): BindingDeps {
  return {
    openTarget: async () => ({
      sysfs, env: sysfsOnlyEnvironment(sysfs), probe, journal, fix: { vfioOptions: [], sysfs: sysfs.description, live: true },
      loadModule: async (m: string) => sysfs.loadDriver(m),
    }),
    openConfigFs: () => {
      if (!config) throw new Error("this test gave no configuration root");
      return nodeConfigFs(config.root);
    },
    runCommand: async (argv) => {
      config?.ran.push([...argv]);
    },
  };
}

export function captureIo(): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
    out: () => out,
    err: () => err,
  };
}
