// vfio bind and restore against the emulated machine's sysfs (emu/sysfs): the same plan and
// executor as on real Linux (test/kernel/host-bind.test.ts), and the same viability verdicts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EmulatedSystem } from "../../src/emu/system.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { planBind } from "../../src/host/bind-plan.js";
import { executeBind, executeRestore } from "../../src/host/bind-executor.js";
import { readBindingState, readDriver } from "../../src/host/binding-state.js";
import { memoryJournal } from "../../src/host/journal.js";
import { VFIO_GROUP_FLAGS_VIABLE } from "../../src/api/constants.js";

async function viable(system: EmulatedSystem, group: number): Promise<boolean> {
  const g = await system.openGroup(group);
  try {
    return ((await g.status()) & VFIO_GROUP_FLAGS_VIABLE) !== 0;
  } finally {
    await g.close();
  }
}

test("on the emulated machine, bind makes the bridge group viable and restore gives the e1000 back", async () => {
  const system = new EmulatedSystem(defaultMachineSpec());
  const sysfs = system.sysfs;
  const { group } = await readBindingState(sysfs, "0000:01:02.0");
  const journal = memoryJournal();

  const plan = await planBind(sysfs, ["0000:01:01.0"]);
  assert.deepEqual(plan.members.map((m) => [m.address, m.action]), [
    ["0000:00:04.0", "stays"], ["0000:01:01.0", "bind"], ["0000:01:02.0", "bind"],
  ]);
  // The edu has no host driver here, as in the guest before /init binds it: no unbind step for it.
  assert.equal(await readDriver(sysfs, "0000:01:02.0"), "e1000");
  await executeBind(plan, { sysfs, journal });
  assert.equal(await readDriver(sysfs, "0000:01:01.0"), "vfio-pci");
  assert.equal(await readDriver(sysfs, "0000:01:02.0"), "vfio-pci");
  assert.equal(await viable(system, group), true);

  const outcome = await executeRestore(await journal.entries(), { sysfs, journal });
  assert.deepEqual(outcome.failed, []);
  assert.equal(await readDriver(sysfs, "0000:01:02.0"), "e1000");
  assert.equal(await readDriver(sysfs, "0000:01:01.0"), null);
  // No member on vfio-pci any more: /dev/vfio/<group> is gone, as on Linux.
  await assert.rejects(system.openGroup(group), { code: "ENOENT" });
});
