/**
 * The per-I/O DMA path of KernelContainer against a scripted Libc: the argument blocks it hands
 * the kernel, the incremental memlock check (no /proc read per mapping), and errors as
 * rejections from the promise form and throws from the synchronous one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ioctl from "../../src/abi/ioctl-number.js";
import { dmaMapLayout, dmaUnmapLayout } from "../../src/abi/vfio/dma-map.js";
import { KernelContainer } from "../../src/kernel/container.js";
import { MemlockBudget, type LockedMemory } from "../../src/kernel/memlock.js";
import { ScriptedLibc, fixtureSysfs } from "./scripted-libc.js";

const E = ScriptedLibc.errno;

/** LockedMemory that counts its readings and whose VmLck a test can move. */
function countingMemory(limit: bigint, locked: bigint): LockedMemory & { reads: number; vmLck: bigint } {
  const memory = {
    reads: 0,
    vmLck: locked,
    hasIpcLock: () => false,
    limit: () => limit,
    locked: () => {
      memory.reads++;
      return memory.vmLck;
    },
  };
  return memory;
}

function container(libc: ScriptedLibc, lockedMemory: LockedMemory): KernelContainer {
  return new KernelContainer({ libc, sysfs: fixtureSysfs({}), lockedMemory, devVfio: "/dev/vfio" }, 50);
}

const MiB = 1n << 20n;

test("the memlock budget reads VmLck once, then counts the container's own maps and unmaps", () => {
  const memory = countingMemory(8n * MiB, 2n * MiB);
  const budget = new MemlockBudget(memory);
  for (let i = 0; i < 100; i++) {
    assert.equal(budget.shortfall(MiB), undefined);
    budget.account(MiB);
    budget.account(-MiB);
  }
  assert.equal(memory.reads, 1);
  budget.account(6n * MiB);
  // The estimate says 8 MiB locked: one more page needs a fresh reading, which confirms it.
  memory.vmLck = 8n * MiB;
  assert.deepEqual(budget.shortfall(4096n), { limit: 8n * MiB, locked: 8n * MiB });
  assert.equal(memory.reads, 2);
});

test("a stale estimate never refuses: over the limit by the estimate, the budget reads again", () => {
  const memory = countingMemory(8n * MiB, 6n * MiB);
  const budget = new MemlockBudget(memory);
  assert.equal(budget.shortfall(MiB), undefined);
  budget.account(MiB);
  // Something else in the process unlocked 6 MiB since: the estimate (7 MiB) is stale.
  memory.vmLck = MiB;
  assert.equal(budget.shortfall(4n * MiB), undefined);
  assert.equal(memory.reads, 2);
  // With CAP_IPC_LOCK nothing is read at all.
  const exempt = { ...countingMemory(0n, 0n), hasIpcLock: () => true };
  assert.equal(new MemlockBudget(exempt).shortfall(1n << 40n), undefined);
  assert.equal(exempt.reads, 0);
});

test("mapDma/unmapDma hand the kernel whole argument blocks and reuse them; the unmapped size comes back", async () => {
  const libc = new ScriptedLibc();
  libc.handlers.set(ioctl.VFIO_IOMMU_MAP_DMA, () => 0);
  libc.handlers.set(ioctl.VFIO_IOMMU_UNMAP_DMA, (_fd, arg) => {
    // The kernel may unmap less than asked (vfio_dma_do_unmap writes unmap->size back).
    dmaUnmapLayout.encode({ ...dmaUnmapLayout.decode(arg as Uint8Array), size: 0x2000n }, arg as Uint8Array);
    return 0;
  });
  const memory = countingMemory(1n << 40n, 0n);
  const c = container(libc, memory);
  await c.mapDma({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 0x4000n });
  await c.mapDma({ flags: 1, vaddr: 0x7f0000010000n, iova: 0x200000n, size: 0x1000n });
  assert.deepEqual(dmaMapLayout.decode(libc.calls[0]!.arg as Uint8Array), { argsz: 32, flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 0x4000n });
  assert.deepEqual(dmaMapLayout.decode(libc.calls[1]!.arg as Uint8Array), { argsz: 32, flags: 1, vaddr: 0x7f0000010000n, iova: 0x200000n, size: 0x1000n });
  assert.equal(c.mappedBytes, 0x5000n);
  assert.equal(await c.unmapDma({ flags: 0, iova: 0x100000n, size: 0x4000n }), 0x2000n);
  assert.deepEqual(dmaUnmapLayout.decode(libc.calls[2]!.arg as Uint8Array), { argsz: 24, flags: 0, iova: 0x100000n, size: 0x4000n });
  assert.equal(c.mappedBytes, 0x3000n);
  assert.equal(c.unmapDmaSync({ flags: 0, iova: 0x200000n, size: 0x1000n }), 0x2000n);
  assert.equal(memory.reads, 1);
});

test("errors: the promise form rejects (never throws), the synchronous form throws; a kernel ENOMEM names RLIMIT_MEMLOCK", async () => {
  const libc = new ScriptedLibc();
  libc.handlers.set(ioctl.VFIO_IOMMU_MAP_DMA, () => E("ENOMEM"));
  const memory = countingMemory(8n * MiB, 0n);
  const c = container(libc, memory);
  // The estimate lets 4 MiB through; memory locked elsewhere since makes the kernel refuse it.
  const first = c.mapDma({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4n * MiB });
  assert.ok(first instanceof Promise);
  await assert.rejects(first, (e: { code: string; hint?: string }) => e.code === "ENOMEM" && !/already locked/.test(e.hint ?? ""));
  memory.vmLck = 6n * MiB;
  await assert.rejects(
    c.mapDma({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4n * MiB }),
    (e: { code: string; hint?: string }) => e.code === "ENOMEM" && /RLIMIT_MEMLOCK \(8 MiB; 6 MiB already locked\)/.test(e.hint ?? ""),
  );
  await c.close();
  const closed = c.unmapDma({ flags: 0, iova: 0x100000n, size: 4096n });
  await assert.rejects(closed, (e: { code: string }) => e.code === "EBADF");
  assert.throws(() => c.mapDmaSync({ flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4096n }), (e: { code: string }) => e.code === "EBADF");
});
