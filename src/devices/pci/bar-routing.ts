/**
 * Where a BAR access of a hosted function goes: the MSI-X table and PBA belong to the host
 * (devices/pci/msix-capability.ts; QEMU's msix.c overlays them on the BAR the same way), every
 * other byte to the model. Both hosts route BAR accesses through here.
 */
import type { AccessSize, DeviceModel } from "../../api/hosting.js";
import type { PciConfigSpace } from "./config-space.js";

/** A read of `size` bytes at `offset` of BAR `bar`. */
export function readBar(config: PciConfigSpace, model: DeviceModel, bar: number, offset: bigint, size: AccessSize): bigint {
  const msix = config.msix;
  if (msix !== undefined && msix.claims(bar, offset, size) !== undefined) return msix.read(bar, offset, size);
  return model.barRead(bar, offset, size);
}

/** A write of `size` bytes at `offset` of BAR `bar`. */
export function writeBar(config: PciConfigSpace, model: DeviceModel, bar: number, offset: bigint, size: AccessSize, value: bigint): void {
  const msix = config.msix;
  if (msix !== undefined && msix.claims(bar, offset, size) !== undefined) {
    msix.write(bar, offset, size, value);
    return;
  }
  model.barWrite(bar, offset, size, value);
}
