/**
 * The device models the built-in machine hosts. edu comes from devices/ once it lands; until
 * then an inert function with edu's identity and BARs stands in.
 */
import type { DeviceModel } from "../api/hosting.js";
import { InertModel } from "./pci/inert-model.js";

/** A fresh edu (QEMU's educational device, docs/specs/edu.rst): 1234:11e8, 1 MiB BAR0, one MSI vector, INTA. */
export function eduModel(): DeviceModel {
  return new InertModel({
    name: "edu",
    identity: { vendorId: 0x1234, deviceId: 0x11e8, subsystemVendorId: 0x1af4, subsystemId: 0x1100, classCode: 0x00ff00, revision: 0x10 },
    bars: [{ size: 0x10_0000n, kind: "memory32", prefetchable: false }],
    msiVectors: 1,
    intxPin: 1,
  });
}
