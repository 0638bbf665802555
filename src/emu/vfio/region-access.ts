/**
 * Region reads and writes on an emulated vfio-pci device fd (pread/pwrite at a region's
 * offset): drivers/vfio/pci/vfio_pci_rdwr.c and vfio_pci_config.c of Linux 6.1, with the
 * kernel's errnos. BAR accesses are split as vfio_pci_core_do_io_rw splits them and skip the
 * MSI-X table as vfio_pci_bar_rw does (reads of it return all-ones, writes are dropped): the
 * table belongs to the host kernel, which programs it for userspace through SET_IRQS.
 */
import type { VfioOp } from "../../api/op.js";
import {
  VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_NUM_REGIONS, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
} from "../../api/constants.js";
import { PCI_MSIX_ENTRY_SIZE } from "../../api/pci-regs.js";
import { readBar, writeBar } from "../../devices/pci/bar-routing.js";
import type { PciFunction } from "../pci/function.js";
import { fail } from "./errno.js";
import { ConfigRangeError, type VfioPciConfig } from "./pci-config.js";

/** What region access needs of the device: its function and, while open, its virtual config. */
export interface RegionTarget {
  readonly fn: PciFunction;
  readonly config: VfioPciConfig | undefined;
  readonly target: string;
  barSize(index: number): bigint;
}

/** pread (data undefined) or pwrite of region `index`; returns the bytes read or written. */
export function regionAccess(dev: RegionTarget, op: VfioOp, index: number, offset: bigint, length: number, data: Uint8Array | undefined): Uint8Array {
  if (length === 0) return new Uint8Array(0);
  if (index < 0 || index >= VFIO_PCI_NUM_REGIONS) fail(op, "EINVAL", dev.target, `region ${index} does not exist`);
  if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
    const config = dev.config!;
    try {
      if (data) {
        config.write(Number(offset), data);
        return data;
      }
      return config.read(Number(offset), length);
    } catch (error) {
      if (error instanceof ConfigRangeError) fail(op, "EFAULT", dev.target, "past the end of config space");
      throw error;
    }
  }
  if (index === VFIO_PCI_ROM_REGION_INDEX) {
    if (data) fail(op, "EINVAL", dev.target, "the ROM is read-only");
    fail(op, "EINVAL", dev.target, "no ROM");
  }
  if (index === VFIO_PCI_VGA_REGION_INDEX) fail(op, "EINVAL", dev.target, "not a VGA device");
  return barAccess(dev, op, index, offset, length, data);
}

/** vfio_pci_bar_rw(). */
function barAccess(dev: RegionTarget, op: VfioOp, index: number, offset: bigint, length: number, data: Uint8Array | undefined): Uint8Array {
  const fn = dev.fn;
  const end = dev.barSize(index);
  if (!end) fail(op, "EINVAL", dev.target, `BAR${index} is not implemented`);
  if (offset < 0n || offset >= end) fail(op, "EINVAL", dev.target, `offset 0x${offset.toString(16)} is past BAR${index}'s end`);
  const count = Number(end - offset < BigInt(length) ? end - offset : BigInt(length));
  const spec = fn.model.bars[index]!;
  if (spec.kind !== "io" && !dev.config!.memoryEnabled()) fail(op, "EIO", dev.target, "Memory Space Enable is off in the Command register");
  // The excluded range: the MSI-X table (vdev->msix_offset, msix_size = entries * 16).
  const msix = fn.config.msix;
  const xStart = msix && msix.spec.tableBar === index ? BigInt(msix.spec.tableOffset) : -1n;
  const xEnd = msix && msix.spec.tableBar === index ? xStart + BigInt(msix.spec.vectors * PCI_MSIX_ENTRY_SIZE) : -1n;
  // vfio_pci_core_do_io_rw(): the widest naturally aligned access that fits, 4, 2 or 1 bytes.
  const out = data ? data : new Uint8Array(count);
  let done = 0;
  while (done < count) {
    const pos = offset + BigInt(done);
    const left = count - done;
    if (pos >= xStart && pos < xEnd) {
      // Inside the table: all-ones for reads, writes dropped, up to the table's end.
      const skip = Math.min(left, Number(xEnd - pos));
      if (!data) out.fill(0xff, done, done + skip);
      done += skip;
      continue;
    }
    const untilTable = pos < xStart ? Number(xStart - pos) : left;
    const room = Math.min(left, untilTable);
    const size: 1 | 2 | 4 = room >= 4 && pos % 4n === 0n ? 4 : room >= 2 && pos % 2n === 0n ? 2 : 1;
    if (data) {
      let value = 0n;
      for (let i = 0; i < size; i++) value |= BigInt(data[done + i]!) << BigInt(8 * i);
      writeBar(fn.config, fn.model, index, pos, size, value);
    } else {
      const value = readBar(fn.config, fn.model, index, pos, size);
      for (let i = 0; i < size; i++) out[done + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    }
    done += size;
  }
  return data ? data.subarray(0, count) : out;
}
