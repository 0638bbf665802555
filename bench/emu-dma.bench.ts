/**
 * DMA through the emulated IOMMU: a device model's reads and writes of process memory, page by
 * page through the IOTLB and the type1 mappings, against a plain memory copy of the same bytes
 * in the same run.
 */
import type { BenchResult } from "./main.js";
import { EmulatedSystem } from "../src/emu/system.js";
import { defaultMachineSpec } from "../src/emu/default-machine.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, VFIO_TYPE1v2_IOMMU } from "../src/api/constants.js";

export const name = "emulated IOMMU: DMA throughput";

const REGION = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

function rate(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000);
}

/**
 * Runs each body in turn, 20 ms at a time, for `rounds` rounds, so that every figure sees the
 * same share of a busy machine; returns bytes moved and time spent, per body.
 */
function interleaved(rounds: number, bytesPerCall: number, bodies: readonly (() => void)[]): { bytes: number; ms: number }[] {
  const totals = bodies.map(() => ({ bytes: 0, ms: 0 }));
  for (let r = 0; r < rounds; r++) {
    bodies.forEach((body, k) => {
      const start = performance.now();
      let now = start;
      let calls = 0;
      while (now - start < 20) {
        for (let i = 0; i < 8; i++) body();
        calls += 8;
        now = performance.now();
      }
      totals[k]!.bytes += calls * bytesPerCall;
      totals[k]!.ms += now - start;
    });
  }
  return totals;
}

export async function run(): Promise<readonly BenchResult[]> {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const container = await system.openContainer();
  const group = await system.openGroup(1);
  await group.setContainer(container);
  await container.setIommu(VFIO_TYPE1v2_IOMMU);
  const memory = system.allocateMemory(REGION);
  await container.mapDma({ flags: 3, vaddr: memory.vaddr, iova: 0x100_0000n, size: BigInt(REGION) });
  const fn = system.machine.fn("0000:00:03.0")!;
  fn.config.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  const source = new Uint8Array(CHUNK).fill(0xa5);
  const target = new Uint8Array(REGION);
  const deviceBuffer = new Uint8Array(CHUNK);

  let offset = 0;
  const next = () => {
    offset = (offset + CHUNK) % REGION;
    return offset;
  };
  const [write, read, copy] = interleaved(20, CHUNK, [
    () => system.machine.dmaWrite(fn, 0x100_0000n + BigInt(next()), source),
    () => system.machine.dmaReadInto(fn, 0x100_0000n + BigInt(next()), deviceBuffer),
    () => target.set(source, next()),
  ]) as [{ bytes: number; ms: number }, { bytes: number; ms: number }, { bytes: number; ms: number }];
  await container.close();
  memory.free();
  const baseline = { label: "Uint8Array.set of the same 64 KiB chunks", value: rate(copy.bytes, copy.ms) };
  return [
    { label: "device DMA write, 64 KiB chunks through the IOMMU", value: rate(write.bytes, write.ms), unit: "MiB/s", baseline, higherIsBetter: true },
    { label: "device DMA read, 64 KiB chunks through the IOMMU", value: rate(read.bytes, read.ms), unit: "MiB/s", baseline, higherIsBetter: true },
  ];
}
