/**
 * `vfio bind --driver uio_pci_generic` on the emulated machine: the vfio-pci plan, journal,
 * dry-run and restore, moving only the named device; the opt-in demanded; a device whose INTx
 * cannot be masked refused by the driver's probe and rolled back; `vfio ls`/`vfio check` say
 * what a UIO binding means.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/run.js";
import { bindCommand } from "../../src/cli/commands/bind.js";
import { restoreCommand } from "../../src/cli/commands/restore.js";
import type { BindingDeps } from "../../src/cli/binding-deps.js";
import { Machine } from "../../src/emu/machine.js";
import { renderSysfs } from "../../src/emu/sysfs/emulated-sysfs.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { idleHostProbe } from "../../src/host/host-probe.js";
import { memoryJournal, type Journal } from "../../src/host/journal.js";
import { readDriver } from "../../src/host/binding-state.js";
import { UioPciGeneric } from "../../src/emu/uio/uio-driver.js";
import { captureIo } from "../cli/commands/binding-fixture.js";
import { sysfsOnlyEnvironment } from "../../src/host/sysfs-only-environment.js";
import { lsCommand } from "../../src/cli/commands/ls.js";
import { checkCommand } from "../../src/cli/commands/check.js";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const fixture = (name: string): string => path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/sysfs", name);

const EDU = "0000:00:03.0";
const EDU_BEHIND_BRIDGE = "0000:01:01.0";

function depsFor(machine: Machine, journal: Journal): BindingDeps {
  return {
    openTarget: async () => {
      const sysfs = renderSysfs(machine);
      return {
        sysfs, env: sysfsOnlyEnvironment(sysfs), probe: idleHostProbe, journal, fix: { vfioOptions: [], sysfs: sysfs.description, live: true },
        loadModule: async () => {},
      };
    },
    openConfigFs: () => {
      throw new Error("no persist here");
    },
    runCommand: async () => {
      throw new Error("no commands here");
    },
  };
}

test("without --unsafe-no-iommu, --driver uio_pci_generic is a usage error and nothing is written", async () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const io = captureIo();
  const generation = machine.generation;
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic"], io, [bindCommand(depsFor(machine, memoryJournal()))]), 2);
  assert.match(io.err(), /--unsafe-no-iommu/);
  assert.equal(machine.generation, generation);
});

test("--dry-run: only the named device, one warning line, and no write", async () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const io = captureIo();
  assert.equal(await runCli(["bind", EDU_BEHIND_BRIDGE, "--driver", "uio_pci_generic", "--unsafe-no-iommu", "--dry-run"], io, [bindCommand(depsFor(machine, memoryJournal()))]), 0);
  assert.equal(io.err().split("\n").filter((l) => /anywhere in memory/.test(l)).length, 1);
  assert.match(io.out(), /0000:01:01\.0 +bind +moves from vfio-pci to uio_pci_generic/);
  assert.doesNotMatch(io.out(), /0000:01:02\.0/);
  assert.equal(await readDriver(renderSysfs(machine), EDU_BEHIND_BRIDGE), "vfio-pci");
});

test("bind to uio_pci_generic, then restore: /dev/uioN comes and goes, vfio-pci is back", async () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const journal = memoryJournal();
  const commands = [bindCommand(depsFor(machine, journal)), restoreCommand(depsFor(machine, journal))];
  const io = captureIo();
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic", "--unsafe-no-iommu"], io, commands), 0);
  assert.match(io.out(), /Bound 0000:00:03\.0 to uio_pci_generic/);
  assert.equal(await readDriver(renderSysfs(machine), EDU), "uio_pci_generic");
  assert.deepEqual(await renderSysfs(machine).list(`bus/pci/devices/${EDU}/uio`), ["uio0"]);
  assert.equal((await journal.entries())[0]?.boundTo, "uio_pci_generic");
  assert.equal(await runCli(["restore"], captureIo(), commands), 0);
  assert.equal(await readDriver(renderSysfs(machine), EDU), "vfio-pci");
  assert.equal(await renderSysfs(machine).list(`bus/pci/devices/${EDU}/uio`), undefined);
  assert.deepEqual(await journal.entries(), []);
});

test("a device whose Interrupt Disable does not stick: the probe refuses, the bind rolls back and says why", async () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const config = machine.fn(EDU)!.config;
  const write = config.write.bind(config);
  // A device without PCI 2.3 INTx masking: bit 10 of PCI_COMMAND is read-only zero.
  config.write = (offset, size, value) => write(offset, size, offset === 4 && size >= 2 ? value & ~0x400 : offset === 5 ? value & ~0x4 : value);
  assert.equal(UioPciGeneric.intxMaskSupported(machine.fn(EDU)!), false);
  const journal = memoryJournal();
  const io = captureIo();
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic", "--unsafe-no-iommu"], io, [bindCommand(depsFor(machine, journal))]), 1);
  assert.match(io.err(), /pci_intx_mask_supported/);
  assert.equal(await readDriver(renderSysfs(machine), EDU), "vfio-pci");
  assert.deepEqual(await journal.entries(), []);
});

test("vfio ls and vfio check name a UIO-bound device and what it means (the guest fixture, edu moved to uio_pci_generic)", async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), "vfio-ts-uio-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(fixture("guest-q35-e1000-bound"), root, { recursive: true, verbatimSymlinks: true });
  const dev = path.join(root, "sys/devices/pci0000:00/0000:00:03.0");
  rmSync(path.join(dev, "driver"));
  symlinkSync("../../../bus/pci/drivers/uio_pci_generic", path.join(dev, "driver"));
  mkdirSync(path.join(root, "sys/bus/pci/drivers/uio_pci_generic"), { recursive: true });
  mkdirSync(path.join(dev, "uio/uio0"), { recursive: true });
  const ls = captureIo();
  assert.equal(await runCli(["ls", "--sysfs", root], ls, [lsCommand]), 0);
  assert.match(ls.out(), /0000:00:03\.0 is on uio_pci_generic \(\/dev\/uio0\): .*write anywhere in memory/);
  const lsJson = captureIo();
  assert.equal(await runCli(["ls", "--sysfs", root, "--json"], lsJson, [lsCommand]), 0);
  assert.deepEqual(JSON.parse(lsJson.out()).uio, [{ device: EDU, uio: 0 }]);
  const check = captureIo();
  assert.equal(await runCli(["check", EDU, "--sysfs", root], check, [checkCommand]), 1);
  assert.match(check.out(), /warning: 0000:00:03\.0 is on uio_pci_generic/);
});

test("vfio check without an IOMMU says whether VFIO's no-IOMMU mode exists in this kernel", async () => {
  const check = captureIo();
  const device = readdirSync(path.join(fixture("host-no-iommu"), "sys/bus/pci/devices"))[0]!;
  await runCli(["check", device, "--sysfs", fixture("host-no-iommu"), "--json"], check, [checkCommand]);
  assert.equal(JSON.parse(check.out()).noIommuMode, "absent");
});

test("--driver takes vfio-pci or uio_pci_generic only; a bridge is refused for UIO; --persist does not go with UIO", async () => {
  const machine = new Machine(defaultMachineSpec({ guestInit: true }));
  const commands = [bindCommand(depsFor(machine, memoryJournal()))];
  const other = captureIo();
  assert.equal(await runCli(["bind", EDU, "--driver", "e1000"], other, commands), 2);
  assert.match(other.err(), /--driver is vfio-pci or uio_pci_generic/);
  const bridge = captureIo();
  assert.equal(await runCli(["bind", "0000:00:04.0", "--driver", "uio_pci_generic", "--unsafe-no-iommu"], bridge, commands), 2);
  assert.match(bridge.err(), /is a bridge/);
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic", "--unsafe-no-iommu", "--persist"], captureIo(), commands), 2);
  assert.equal(await readDriver(renderSysfs(machine), "0000:00:04.0"), null);
  assert.equal(await readDriver(renderSysfs(machine), EDU), "vfio-pci");
});
