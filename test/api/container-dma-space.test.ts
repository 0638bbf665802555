import { test } from "node:test";
import assert from "node:assert/strict";
import type { Container, DmaMapRequest, DmaUnmapRequest, IommuInfo } from "../../src/api/container.js";
import type { ProcessMemory, VfioSystem } from "../../src/api/vfio-system.js";
import { ContainerDmaSpace } from "../../src/api/container-dma-space.js";
import { VFIO_IOMMU_INFO_PGSIZES } from "../../src/api/constants.js";
import { VfioSystemError, errnoValue } from "../../src/api/errors.js";

/** A container that records maps and unmaps, and refuses overlaps with EEXIST as type1 does. */
function fakes(info: Partial<IommuInfo> = {}) {
  const log: string[] = [];
  const mapped = new Map<bigint, bigint>();
  let nextVaddr = 0x7f0000000000n;
  let failMap: number | undefined;
  const container = {
    async iommuInfo(): Promise<IommuInfo> {
      return { flags: VFIO_IOMMU_INFO_PGSIZES, iovaPgsizes: 0x1000n, iovaRanges: [{ start: 0n, end: 0xfedfffffn }], ...info };
    },
    async mapDma(r: DmaMapRequest) {
      if (failMap !== undefined) throw new VfioSystemError("VFIO_IOMMU_MAP_DMA", failMap, "emulated");
      log.push(`map ${r.iova.toString(16)} ${r.size} flags ${r.flags}`);
      mapped.set(r.iova, r.size);
    },
    async unmapDma(r: DmaUnmapRequest) {
      log.push(`unmap ${r.iova.toString(16)} ${r.size}`);
      const size = mapped.get(r.iova) ?? 0n;
      mapped.delete(r.iova);
      return size;
    },
  } as unknown as Container;
  const system = {
    pageSize: 4096,
    allocateMemory(size: number): ProcessMemory {
      const rounded = Math.ceil(Math.max(size, 1) / 4096) * 4096;
      const vaddr = nextVaddr;
      nextVaddr += BigInt(rounded);
      log.push(`alloc ${rounded}`);
      return { vaddr, size: rounded, bytes: new Uint8Array(rounded), fd: undefined, free: () => log.push(`free ${vaddr.toString(16)}`) };
    },
  } as unknown as VfioSystem;
  return { log, mapped, container, system, failNextMaps: (errno: number | undefined) => (failMap = errno) };
}

test("allocate() maps page-rounded memory at an IOVA below the limit; free() unmaps before freeing", async () => {
  const { log, container, system, mapped } = fakes();
  const space = new ContainerDmaSpace(system, container, { limit: 1n << 28n });
  const a = await space.allocate(100);
  const b = await space.allocate(8192, { write: false });
  assert.equal(a.size, 4096);
  assert.equal(a.iova, 0x1000n);
  assert.equal(b.iova, 0x2000n);
  assert.ok(b.iova + BigInt(b.size) <= 1n << 28n);
  assert.equal(mapped.size, 2);
  await a.free();
  await a.free();
  assert.deepEqual(log.slice(-2), ["unmap 1000 4096", "free 7f0000000000"]);
  assert.ok(log.includes("map 2000 8192 flags 1"));
  assert.equal(space.buffers, 1);
  await space.close();
  assert.equal(space.buffers, 0);
  assert.equal(mapped.size, 0);
  await assert.rejects(space.allocate(1), { code: "EBADF" });
});

test("a refused map frees the memory and the IOVA, and passes the errno on", async () => {
  const f = fakes();
  const space = new ContainerDmaSpace(f.system, f.container);
  f.failNextMaps(errnoValue("ENOMEM"));
  await assert.rejects(space.allocate(4096), { code: "ENOMEM" });
  assert.match(f.log.at(-1)!, /^free /);
  f.failNextMaps(undefined);
  assert.equal((await space.allocate(4096)).iova, 0x1000n);
  await space.close();
});

test("a fixed IOVA outside the usable ranges is refused before any mapping", async () => {
  const f = fakes();
  const space = new ContainerDmaSpace(f.system, f.container);
  await assert.rejects(space.allocate(4096, { iova: 0xfee00000n }), { code: "EINVAL" });
  assert.equal(f.mapped.size, 0);
  await space.close();
});
