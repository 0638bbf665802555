import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../src/emu/machine.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { emulatedHostEnvironment } from "../../src/emu/host-environment.js";

test("/dev/vfio lists a node per group with a vfio-pci device, and the container node", async () => {
  const machine = new Machine(defaultMachineSpec());
  const env = emulatedHostEnvironment(machine);
  assert.deepEqual((await env.listDevVfio())!.map((n) => n.name), ["vfio"]);
  await env.sysfs.write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci");
  await env.sysfs.write("bus/pci/drivers_probe", "0000:02:00.0");
  assert.deepEqual((await env.listDevVfio())!.map((n) => [n.name, n.mode]), [["7", 0o600], ["vfio", 0o666]]);
});

test("procfs answers as the guest: intel_iommu=on, remapped interrupts, the kernel release", async () => {
  const env = emulatedHostEnvironment(new Machine(defaultMachineSpec()));
  assert.match((await env.readProc("cmdline"))!, /intel_iommu=on/);
  assert.match((await env.readProc("interrupts"))!, /IR-IO-APIC/);
  assert.equal(await env.readProc("sys/kernel/osrelease"), "6.1.0-56-amd64\n");
  assert.equal(await env.readProc("nonexistent"), undefined);
});
