/**
 * A model whose BAR is memory: the server offers it with an fd (VFIO_REGION_INFO_FLAG_MMAP),
 * the client maps it, and client, model and REGION_READ/WRITE all see the same bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccessSize, BarSpec, DeviceHost, DeviceModel } from "../../src/api/hosting.js";
import { VFIO_REGION_INFO_FLAG_MMAP } from "../../src/api/constants.js";
import { loopback } from "./loopback.js";

/** BAR0: 16 KiB of memory. BAR2: one register that reads the sum of BAR0's first 16 bytes. */
class SharedMemoryDevice implements DeviceModel {
  readonly name = "shmem";
  readonly identity = { vendorId: 0x1af4, deviceId: 0x1110, subsystemVendorId: 0, subsystemId: 0, classCode: 0x050000, revision: 1 };
  readonly bars: readonly (BarSpec | undefined)[] = [{ size: 0x4000n, kind: "memory32", prefetchable: true, memory: true }, undefined, { size: 0x100n, kind: "memory32", prefetchable: false }];
  readonly msiVectors = 0;
  readonly intxPin = 0;
  host: DeviceHost | undefined;
  attach(host: DeviceHost): void {
    this.host = host;
  }
  barRead(bar: number, _offset: bigint, _size: AccessSize): bigint {
    if (bar !== 2) throw new Error("BAR0 is memory: the host answers it");
    const mem = this.host!.barMemory!(0)!;
    return BigInt(mem.subarray(0, 16).reduce((a, b) => a + b, 0));
  }
  barWrite(): void {}
  reset(): void {}
}

for (const fds of [true, false]) {
  test(`a memory BAR ${fds ? "is mapped by the client through the fd the server offers" : "is reached by REGION_READ/WRITE without fds"}`, async (t) => {
    const { client } = await loopback(t, { model: new SharedMemoryDevice(), fds });
    const info = await client.regionInfo(0);
    assert.equal(info.size, 0x4000n);
    assert.equal((info.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0, fds);
    if (fds) {
      const map = await client.mapRegion(0);
      t.after(() => map.unmap());
      map.write32(0, 0x04030201);
      map.write32(0x3ffc, 0xdeadbeef);
      const back = await client.read(0, 0x3ffcn, 4);
      assert.deepEqual([...back], [0xef, 0xbe, 0xad, 0xde]);
      await client.write(0, 8n, new Uint8Array([10]));
      assert.equal(map.read8(8), 10);
    } else {
      await assert.rejects(client.mapRegion(0), { code: "EINVAL" });
      await client.write(0, 0n, new Uint8Array([1, 2, 3, 4, 0, 0, 0, 0, 10]));
    }
    const sum = await client.read(2, 0n, 4);
    assert.equal(sum[0], 20);
  });
}

test("a memory BAR's region info as libvfio-user gives it: argsz 32 gets the size needed and no fd; the retry gets the sparse-mmap cap and one fd", async (t) => {
  const { rawPeer } = await import("./raw-peer.js");
  const { VfioUserCommand } = await import("../../src/abi/vfio-user/command.js");
  const { regionInfoLayout } = await import("../../src/abi/vfio-user/messages.js");
  const { walkCapChain, decodeRegionCap } = await import("../../src/abi/cap-chain.js");
  const { loadLibc } = await import("../../src/native/libc.js");
  const peer = await rawPeer(t, { model: new SharedMemoryDevice() });
  const short = await peer.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz: 32, index: 0 })]);
  const head = regionInfoLayout.decode(short.payload);
  assert.deepEqual([head.argsz, head.flags, head.capOffset, short.fds.length, short.payload.byteLength], [64, 7, 0, 0, 32]);
  const full = await peer.request(VfioUserCommand.DEVICE_GET_REGION_INFO, [regionInfoLayout.encode({ argsz: 64, index: 0 })]);
  t.after(() => full.fds.forEach((fd) => loadLibc().close(fd)));
  const info = regionInfoLayout.decode(full.payload);
  assert.deepEqual([info.argsz, info.flags, info.capOffset, full.fds.length], [64, 15, 32, 1]);
  const caps = walkCapChain({ buffer: full.payload, capOffset: info.capOffset, argsz: info.argsz, infoSize: 32 }).map(decodeRegionCap);
  assert.deepEqual(caps, [{ id: 1, kind: "sparse-mmap", version: 1, areas: [{ offset: 0n, size: 0x4000n }] }]);
});
