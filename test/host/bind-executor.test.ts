import { test } from "node:test";
import assert from "node:assert/strict";
import { planBind } from "../../src/host/bind-plan.js";
import { executeBind, executeRestore, runStep } from "../../src/host/bind-executor.js";
import { memoryJournal } from "../../src/host/journal.js";
import { FakeKernelSysfs } from "./fake-kernel-sysfs.js";

const now = () => new Date("2026-11-23T22:00:00Z");

function machine(): FakeKernelSysfs {
  return new FakeKernelSysfs([
    { address: "0000:00:04.0", group: 4, classCode: "0x060400", nativeDriver: null },
    { address: "0000:01:01.0", group: 4, classCode: "0x00ff00", nativeDriver: "edu", override: "edu" },
    { address: "0000:01:02.0", group: 4, classCode: "0x020000", nativeDriver: "e1000" },
  ], ["e1000", "edu", "vfio-pci"]);
}

test("executeBind() moves every member to vfio-pci, writes exactly the plan's writes, and journals them", async () => {
  const sysfs = machine();
  const journal = memoryJournal();
  const plan = await planBind(sysfs, ["0000:01:01.0"]);
  await executeBind(plan, { sysfs, journal, now });
  assert.equal(sysfs.driverOf("0000:01:01.0"), "vfio-pci");
  assert.equal(sysfs.driverOf("0000:01:02.0"), "vfio-pci");
  assert.equal(sysfs.driverOf("0000:00:04.0"), null);
  assert.deepEqual(sysfs.writes, plan.steps.flatMap((s) => (s.kind === "write" ? [{ path: s.path, value: s.value }] : [])));
  assert.deepEqual(await journal.entries(), [
    { address: "0000:01:01.0", group: 4, previousDriver: "edu", previousOverride: "edu", boundTo: "vfio-pci", time: "2026-11-23T22:00:00.000Z", sysfs: "fake sysfs" },
    { address: "0000:01:02.0", group: 4, previousDriver: "e1000", previousOverride: null, boundTo: "vfio-pci", time: "2026-11-23T22:00:00.000Z", sysfs: "fake sysfs" },
  ]);
});

test("executeRestore() puts each device back on its original driver and override, and empties the journal", async () => {
  const sysfs = machine();
  const journal = memoryJournal();
  await executeBind(await planBind(sysfs, ["0000:01:02.0"]), { sysfs, journal, now });
  const outcome = await executeRestore(await journal.entries(), { sysfs, journal });
  assert.deepEqual(outcome, { restored: ["0000:01:01.0", "0000:01:02.0"], failed: [] });
  assert.equal(sysfs.driverOf("0000:01:01.0"), "edu");
  assert.equal(sysfs.overrideOf("0000:01:01.0"), "edu");
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.equal(sysfs.overrideOf("0000:01:02.0"), null);
  assert.deepEqual(await journal.entries(), []);
});

test("a failure part-way rolls back every device touched, newest first, and reports the step", async () => {
  const sysfs = machine();
  const journal = memoryJournal();
  const plan = await planBind(sysfs, ["0000:01:01.0"]);
  // vfio-pci's probe of the second device fails: drivers_probe succeeds, no driver binds.
  sysfs.probeFails.add("vfio-pci");
  await assert.rejects(executeBind(plan, { sysfs, journal, now, stepTimeoutMs: 60, pollIntervalMs: 5 }), (error: unknown) => {
    const e = error as { name: string; code: string; step: { kind: string; device: string }; rolledBack: string[]; notRolledBack: unknown[] };
    assert.equal(e.name, "BindStepError");
    assert.equal(e.code, "ETIMEDOUT");
    assert.deepEqual([e.step.kind, e.step.device], ["expect-driver", "0000:01:01.0"]);
    assert.deepEqual(e.rolledBack, ["0000:01:01.0"]);
    assert.deepEqual(e.notRolledBack, []);
    return true;
  });
  assert.equal(sysfs.driverOf("0000:01:01.0"), "edu");
  assert.equal(sysfs.overrideOf("0000:01:01.0"), "edu");
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.deepEqual(await journal.entries(), []);
});

test("a failed write on the second device rolls back the first, already on vfio-pci", async () => {
  const sysfs = machine();
  const journal = memoryJournal();
  const plan = await planBind(sysfs, ["0000:01:01.0"]);
  sysfs.failOnce.set("bus/pci/drivers/e1000/unbind", 16);
  await assert.rejects(executeBind(plan, { sysfs, journal }), { name: "BindStepError", code: "EBUSY", rolledBack: ["0000:01:02.0", "0000:01:01.0"] });
  assert.equal(sysfs.driverOf("0000:01:01.0"), "edu");
  assert.equal(sysfs.driverOf("0000:01:02.0"), "e1000");
  assert.equal(sysfs.overrideOf("0000:01:02.0"), null);
});

test("a rollback that fails keeps the journal entry for 'vfio restore' and says so", async () => {
  const sysfs = machine();
  const journal = memoryJournal();
  const plan = await planBind(sysfs, ["0000:01:02.0"]);
  sysfs.failOnce.set("bus/pci/drivers/e1000/unbind", 16);
  // The rollback of 01:01.0 cannot unbind it from vfio-pci.
  sysfs.failOnce.set("bus/pci/drivers/vfio-pci/unbind", 16);
  await assert.rejects(executeBind(plan, { sysfs, journal }), (error: unknown) => {
    const e = error as { notRolledBack: { address: string }[]; rolledBack: string[] };
    assert.deepEqual(e.notRolledBack.map((n) => n.address), ["0000:01:01.0"]);
    assert.deepEqual(e.rolledBack, ["0000:01:02.0"]);
    return true;
  });
  assert.deepEqual((await journal.entries()).map((e) => e.address), ["0000:01:01.0"]);
  // And restore then finishes the job.
  await executeRestore(await journal.entries(), { sysfs, journal });
  assert.equal(sysfs.driverOf("0000:01:01.0"), "edu");
});

test("the failed rollback names the restore command of the machine it ran on (--sysfs, --emulated)", async () => {
  const sysfs = machine();
  const plan = await planBind(sysfs, ["0000:01:02.0"]);
  sysfs.failOnce.set("bus/pci/drivers/e1000/unbind", 16);
  sysfs.failOnce.set("bus/pci/drivers/vfio-pci/unbind", 16);
  const restoreCommand = "vfio restore --sysfs /captures/box --journal /tmp/j.json";
  await assert.rejects(executeBind(plan, { sysfs, journal: memoryJournal(), restoreCommand }), (error: unknown) => {
    assert.ok((error as Error).message.includes(`run '${restoreCommand}'`), (error as Error).message);
    return true;
  });
});

test("a write that never answers fails with ETIMEDOUT after the step timeout", async () => {
  const sysfs = machine();
  sysfs.hang.add("bus/pci/drivers_probe");
  await assert.rejects(
    runStep({ kind: "write", device: "0000:01:01.0", path: "bus/pci/drivers_probe", value: "0000:01:01.0", why: "test" }, { sysfs, journal: memoryJournal(), stepTimeoutMs: 30 }),
    { name: "VfioSystemError", code: "ETIMEDOUT", op: "sysfs write" },
  );
});

test("executeBind() refuses a plan made stale by a driver change", async () => {
  const sysfs = machine();
  const plan = await planBind(sysfs, ["0000:01:02.0"]);
  await sysfs.write("bus/pci/drivers/e1000/unbind", "0000:01:02.0");
  const journal = memoryJournal();
  await assert.rejects(executeBind(plan, { sysfs, journal }), { name: "BindStepError", code: "ESTALE" });
  assert.deepEqual(await journal.entries(), []);
});

test("executeBind() loads a missing vfio-pci through loadModule, and fails with ENOENT without one", async () => {
  const sysfs = new FakeKernelSysfs([{ address: "0000:00:03.0", group: 3, nativeDriver: "e1000" }], ["e1000"]);
  const plan = await planBind(sysfs, ["0000:00:03.0"]);
  await assert.rejects(executeBind(plan, { sysfs, journal: memoryJournal() }), { code: "ENOENT" });
  const loaded: string[] = [];
  await executeBind(plan, { sysfs, journal: memoryJournal(), loadModule: async (m) => { loaded.push(m); sysfs.loadDriver(m); } });
  assert.deepEqual(loaded, ["vfio-pci"]);
  assert.equal(sysfs.driverOf("0000:00:03.0"), "vfio-pci");
});
