/**
 * A function the machine presents but does not emulate beyond its config space: host bridges,
 * PCI bridges, root ports, and the devices that host drivers own (e1000, NVMe, ICH9). Its BARs
 * read as zero and drop writes, which is what a userspace driver sees of a device it does not
 * know how to program; nothing else of it is observable through VFIO.
 */
import type { AccessSize, BarSpec, DeviceHost, DeviceModel, MsixSpec, PciIdentity } from "../../api/hosting.js";

export interface InertDescription {
  readonly name: string;
  readonly identity: PciIdentity;
  readonly bars?: readonly (BarSpec | undefined)[];
  readonly msiVectors?: number;
  readonly intxPin?: number;
  readonly msix?: MsixSpec;
}

/** A device model with identity and BARs but no behaviour. */
export class InertModel implements DeviceModel {
  readonly name: string;
  readonly identity: PciIdentity;
  readonly bars: readonly (BarSpec | undefined)[];
  readonly msiVectors: number;
  readonly intxPin: number;
  readonly msix?: MsixSpec;

  constructor(description: InertDescription) {
    this.name = description.name;
    this.identity = description.identity;
    this.bars = description.bars ?? [];
    this.msiVectors = description.msiVectors ?? 0;
    this.intxPin = description.intxPin ?? 0;
    if (description.msix) this.msix = description.msix;
  }

  attach(_host: DeviceHost): void {}
  barRead(_bar: number, _offset: bigint, _size: AccessSize): bigint {
    return 0n;
  }
  barWrite(_bar: number, _offset: bigint, _size: AccessSize, _value: bigint): void {}
  reset(): void {}
}
