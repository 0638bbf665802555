/**
 * DMA through the emulated IOMMU: a device model's reads and writes of process memory, page by
 * page through the IOTLB and the type1 mappings, against a plain memory copy of the same bytes
 * in the same run.
 */
import { roundCount, slices, type Figure } from "./rounds.js";
import { EmulatedSystem } from "../src/emu/system.js";
import { defaultMachineSpec } from "../src/emu/default-machine.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, VFIO_TYPE1v2_IOMMU } from "../src/api/constants.js";

export const name = "emulated IOMMU: DMA throughput";

const REGION = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** calls per second of a CHUNK-byte body → MiB/s. */
function mibPerSecond(callsPerSecond: number): number {
  return (callsPerSecond * CHUNK) / (1024 * 1024);
}

export async function run(): Promise<readonly Figure[]> {
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
  // Each body runs 20 ms in turn, round after round, so every figure sees the same machine.
  const perRound = slices(roundCount(20), 20, 8, [
    () => system.machine.dmaWrite(fn, 0x100_0000n + BigInt(next()), source),
    () => system.machine.dmaReadInto(fn, 0x100_0000n + BigInt(next()), deviceBuffer),
    () => target.set(source, next()),
  ]).map((rates) => rates.map(mibPerSecond)) as [number, number, number][];
  await container.close();
  memory.free();
  const baseline = "Uint8Array.set of the same 64 KiB chunks";
  return [
    { label: "device DMA write, 64 KiB chunks through the IOMMU", unit: "MiB/s", baseline, higherIsBetter: true, rounds: perRound.map(([w, , c]) => ({ value: w, baseline: c })) },
    { label: "device DMA read, 64 KiB chunks through the IOMMU", unit: "MiB/s", baseline, higherIsBetter: true, rounds: perRound.map(([, r, c]) => ({ value: r, baseline: c })) },
  ];
}
