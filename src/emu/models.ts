/**
 * The device models the built-in machine hosts: QEMU's edu (devices/edu.ts), behind the
 * machine's IOMMU, as the test guest's QEMU 7.2 presents it.
 */
import type { AccessSize, BarSpec, DeviceHost, DeviceModel, PciIdentity } from "../api/hosting.js";
import { EduDevice } from "../devices/edu.js";

/**
 * edu as QEMU 7.2 wires it into a machine: hw/misc/edu.c registers no reset handler, so a bus
 * reset (the only reset Linux finds for an edu behind a bridge) leaves its registers as they
 * were — the golden run shows the factorial and liveness registers surviving VFIO_DEVICE_RESET.
 * The model's own reset() (a function-level reset) is therefore not called by the machine.
 */
class QemuEdu implements DeviceModel {
  readonly name: string;
  readonly identity: PciIdentity;
  readonly bars: readonly (BarSpec | undefined)[];
  readonly msiVectors: number;
  readonly intxPin: number;

  constructor(readonly model: EduDevice) {
    this.name = model.name;
    this.identity = model.identity;
    this.bars = model.bars;
    this.msiVectors = model.msiVectors;
    this.intxPin = model.intxPin;
  }

  attach(host: DeviceHost): void {
    this.model.attach(host);
  }
  barRead(bar: number, offset: bigint, size: AccessSize): bigint {
    return this.model.barRead(bar, offset, size);
  }
  barWrite(bar: number, offset: bigint, size: AccessSize, value: bigint): void {
    this.model.barWrite(bar, offset, size, value);
  }
  reset(): void {
    // No reset handler in QEMU's edu: device state survives a bus reset.
  }
}

/** A fresh edu (QEMU's educational device, docs/specs/edu.rst): 1234:11e8, 1 MiB BAR0, one MSI vector, INTA. */
export function eduModel(): DeviceModel {
  return new QemuEdu(new EduDevice());
}
