// --emulated (src/cli/emulated.ts) as vfio ls and vfio info take it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { vfio } from "../helpers/run-cli.js";

test("vfio ls --emulated lists the guest topology; --emulated with --sysfs is a usage error", async () => {
  const c = await vfio(["ls", "--emulated", "--json"]);
  assert.equal(c.status, 0, c.stderr);
  const data = JSON.parse(c.stdout) as { groups: { id: number; viable: boolean; members: { name: string; driver: string | null }[] }[] };
  assert.deepEqual(data.groups.map((g) => [g.id, g.viable, g.members.map((m) => m.name)]), [
    [0, true, ["0000:00:00.0"]],
    [1, true, ["0000:00:03.0"]],
    [2, false, ["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"]],
    [3, true, ["0000:00:05.0"]],
    [4, true, ["0000:00:06.0"]],
    [5, false, ["0000:00:07.0"]],
    [6, true, ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"]],
    [7, true, ["0000:02:00.0"]],
  ]);
  const bad = await vfio(["ls", "--emulated", "--sysfs", "/tmp"]);
  assert.equal(bad.status, 2);
});

test("vfio info --emulated reports an emulated edu's regions and IRQs; a non-viable group fails with EPERM", async () => {
  const c = await vfio(["info", "--emulated", "--json", "0000:02:00.0"]);
  assert.equal(c.status, 0, c.stderr);
  const report = JSON.parse(c.stdout) as { group: number; flags: number; regions: { index: number; size?: string; error?: string }[]; irqs: { index: number; count?: number }[] };
  assert.equal(report.group, 7);
  assert.equal(report.flags, 3);
  assert.equal(report.regions[0]!.size, "0x100000");
  assert.equal(report.regions[8]!.error, "EINVAL");
  assert.equal(report.irqs[1]!.count, 1);
  const bad = await vfio(["info", "--emulated", "0000:01:01.0"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /EPERM/);
});
