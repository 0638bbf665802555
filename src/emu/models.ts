/**
 * The device models the built-in machine hosts: edu from devices/ (QEMU's edu as QEMU 7.2
 * implements it), behind the machine's IOMMU.
 */
import type { DeviceModel } from "../api/hosting.js";
import { EduDevice } from "../devices/edu.js";

/** A fresh edu (QEMU's educational device, docs/specs/edu.rst): 1234:11e8, 1 MiB BAR0, one MSI vector, INTA. */
export function eduModel(): DeviceModel {
  return new EduDevice();
}
