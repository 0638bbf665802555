// Guest tests of KernelGroup against Linux 6.1's VFIO (skipped outside the test guest).
import { test } from "node:test";
import assert from "node:assert/strict";
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_TYPE1v2_IOMMU } from "../../src/api/constants.js";
import { openDevice } from "../../src/api/open-device.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { E1000, EDU2, EDU_NOT_VIABLE, groupOf, skip } from "./guest.js";

function system(t: { after(fn: () => Promise<void>): void }): KernelSystem {
  const s = new KernelSystem();
  t.after(() => s.close());
  return s;
}

test("the full sequence: status flags follow SET_CONTAINER, the device fd comes after SET_IOMMU", { skip }, async (t) => {
  const s = system(t);
  const container = await s.openContainer();
  const group = await s.openGroup(groupOf(EDU2));
  assert.equal(await group.status(), VFIO_GROUP_FLAGS_VIABLE);
  await assert.rejects(group.openDevice(EDU2), (e: { code: string; op: string; hint?: string }) => {
    assert.equal(e.code, "EINVAL");
    assert.equal(e.op, "VFIO_GROUP_GET_DEVICE_FD");
    assert.match(e.hint ?? "", /VFIO_GROUP_SET_CONTAINER/);
    return true;
  });
  await assert.rejects(group.unsetContainer(), { code: "EINVAL" });
  await group.setContainer(container);
  assert.equal(await group.status(), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
  await assert.rejects(group.setContainer(container), { code: "EINVAL" });
  // Device fd before SET_IOMMU: EINVAL, and the hint names the missing step.
  await assert.rejects(group.openDevice(EDU2), (e: { code: string; hint?: string }) => e.code === "EINVAL" && /VFIO_SET_IOMMU/.test(e.hint ?? ""));
  await container.setIommu(VFIO_TYPE1v2_IOMMU);
  const device = await group.openDevice(EDU2);
  await assert.rejects(group.openDevice("0000:00:1f.0"), { code: "ENODEV" });
  // A group cannot leave its container while a device is open.
  await assert.rejects(group.unsetContainer(), { code: "EBUSY", op: "VFIO_GROUP_UNSET_CONTAINER" });
  await device.close();
  await group.unsetContainer();
  assert.equal(await group.status(), VFIO_GROUP_FLAGS_VIABLE);
  // The last group left: the container lost its IOMMU model with it.
  assert.equal(container.iommuType, undefined);
  await assert.rejects(container.iommuInfo(), { code: "EINVAL" });
});

test("a non-viable group: status says so, SET_CONTAINER is EPERM naming the e1000, GET_DEVICE_FD is EINVAL", { skip }, async (t) => {
  const s = system(t);
  const container = await s.openContainer();
  const group = await s.openGroup(groupOf(EDU_NOT_VIABLE));
  assert.equal((await group.status()) & VFIO_GROUP_FLAGS_VIABLE, 0);
  await assert.rejects(group.openDevice(EDU_NOT_VIABLE), (e: { code: string; hint?: string }) => {
    assert.equal(e.code, "EINVAL");
    assert.match(e.hint ?? "", new RegExp(`${E1000.replace(/\./g, "\\.")} \\(e1000\\)`));
    return true;
  });
  await assert.rejects(group.setContainer(container), (e: { code: string; op: string; target: string; hint?: string }) => {
    assert.equal(e.code, "EPERM");
    assert.equal(e.op, "VFIO_GROUP_SET_CONTAINER");
    assert.equal(e.target, `group ${groupOf(EDU_NOT_VIABLE)}`);
    assert.match(e.hint ?? "", /not viable/);
    assert.match(e.hint ?? "", /e1000/);
    return true;
  });
  await assert.rejects(container.setIommu(VFIO_TYPE1v2_IOMMU), { code: "EINVAL" });
});

test("openDevice() on the non-viable group fails at SET_CONTAINER and leaves nothing open", { skip }, async (t) => {
  const s = system(t);
  await assert.rejects(openDevice(s, EDU_NOT_VIABLE), { code: "EPERM", op: "VFIO_GROUP_SET_CONTAINER" });
  assert.deepEqual(s.open, { containers: 0, groups: 0, memory: 0, notifiers: 0 });
});

test("a group opens once: a second open is EBUSY; a group that does not exist is ENOENT", { skip }, async (t) => {
  const s = system(t);
  const group = await s.openGroup(groupOf(EDU2));
  await assert.rejects(s.openGroup(groupOf(EDU2)), (e: { code: string; hint?: string }) => e.code === "EBUSY" && /already open/.test(e.hint ?? ""));
  await assert.rejects(s.openGroup(999), (e: { code: string; op: string; hint?: string }) => e.code === "ENOENT" && e.op === "open" && /no IOMMU group 999/.test(e.hint ?? ""));
  await group.close();
  await group.close();
  const again = await s.openGroup(groupOf(EDU2));
  await again.close();
});
