import { test } from "node:test";
import assert from "node:assert/strict";
import { EmulatedSystem } from "../../src/emu/system.js";
import { defaultMachineSpec } from "../../src/emu/default-machine.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, VFIO_TYPE1v2_IOMMU } from "../../src/api/constants.js";

const EDU = "0000:00:03.0";

async function attached() {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const container = await system.openContainer();
  const group = await system.openGroup(1);
  await group.setContainer(container);
  await container.setIommu(VFIO_TYPE1v2_IOMMU);
  const fn = system.machine.fn(EDU)!;
  fn.config.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  return { system, container, group, fn };
}

test("device DMA reaches process memory only through a mapping, with the mapping's permissions", async () => {
  const { system, container, fn } = await attached();
  const mem = system.allocateMemory(8192);
  await container.mapDma({ flags: 3, vaddr: mem.vaddr, iova: 0x100000n, size: 4096n });
  await container.mapDma({ flags: 1, vaddr: mem.vaddr + 4096n, iova: 0x101000n, size: 4096n });
  system.machine.dmaWrite(fn, 0x100ffen, Uint8Array.of(1, 2));
  assert.deepEqual([...mem.bytes.subarray(0xffe, 0x1000)], [1, 2]);
  // A write running into the read-only page stops there: the first page is written, the fault recorded.
  assert.throws(() => system.machine.dmaWrite(fn, 0x100ffen, Uint8Array.of(7, 7, 7, 7)), { code: "EDMAFAULT", reason: "no-write-permission" });
  assert.deepEqual([...mem.bytes.subarray(0xffe, 0x1002)], [7, 7, 0, 0]);
  assert.deepEqual(system.machine.dmaRead(fn, 0x101000n, 2), Uint8Array.of(0, 0));
  assert.throws(() => system.machine.dmaRead(fn, 0x200000n, 4), { reason: "not-mapped" });
  assert.deepEqual(system.machine.faults.map((f) => [f.device, f.iova, f.access, f.reason, f.vtdReason]), [
    [EDU, 0x101000n, "write", "no-write-permission", 5],
    [EDU, 0x200000n, "read", "not-mapped", 6],
  ]);
});

test("without Bus Master Enable a device cannot DMA, and no IOMMU fault is logged", async () => {
  const { system, fn } = await attached();
  fn.config.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
  assert.throws(() => system.machine.dmaRead(fn, 0x100000n, 4), { reason: "bus-master-disabled" });
  assert.equal(system.machine.faults.length, 0);
});

test("a group owned by VFIO but without an IOMMU set blocks DMA (fault reason 2: no context entry)", async () => {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const container = await system.openContainer();
  const group = await system.openGroup(1);
  await group.setContainer(container);
  const fn = system.machine.fn(EDU)!;
  fn.config.write(PCI_COMMAND, 2, PCI_COMMAND_MASTER);
  assert.equal(system.machine.domainOf(fn), "blocking");
  assert.throws(() => system.machine.dmaWrite(fn, 0x1000n, Uint8Array.of(1)), { reason: "not-mapped" });
  assert.equal(system.machine.faults[0]!.vtdReason, 2);
  await group.unsetContainer();
  assert.equal(system.machine.domainOf(fn), "default");
});

test("closing the container releases the groups: mappings are gone and the group is viable again", async () => {
  const { system, container, group } = await attached();
  const mem = system.allocateMemory(4096);
  await container.mapDma({ flags: 3, vaddr: mem.vaddr, iova: 0x100000n, size: 4096n });
  await container.close();
  await container.close();
  assert.equal(system.machine.groups[1]!.claimed, false);
  await assert.rejects(group.status(), { code: "EBADF" });
  const again = await system.openGroup(1);
  assert.equal(await again.status(), 1);
});

test("fault listeners hear each IOMMU fault as it happens", async () => {
  const { system, fn } = await attached();
  const heard: bigint[] = [];
  system.machine.onFault((f) => heard.push(f.iova));
  assert.throws(() => system.machine.dmaWrite(fn, 0x345678n, Uint8Array.of(1)));
  assert.deepEqual(heard, [0x345000n]);
});
