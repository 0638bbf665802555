/**
 * The built-in machine: the same PCI topology as the QEMU guest the conformance suite's golden
 * file comes from (see /GUEST notes: q35, intel-iommu, Linux 6.1), so the same scenarios give
 * the same outcomes on both.
 *
 *   00:00.0 host bridge          00:01.0 VGA           00:02.0 e1000e (no driver loaded)
 *   00:03.0 edu (own group)
 *   00:04.0 PCI-PCI bridge ── 01:01.0 edu, 01:02.0 e1000 (bound to e1000): one group, not viable
 *   00:05.0 PCIe root port (ACS) ── 02:00.0 edu (own group)
 *   00:06.0 NVMe                 00:1f.0/.2/.3 ICH9 LPC, SATA, SMBus (one group: no ACS)
 */
import type { DeviceModel, PciIdentity } from "../api/hosting.js";
import type { MachineSpec } from "./machine.js";
import { InertModel } from "./pci/inert-model.js";
import { eduModel } from "./models.js";

const qemu: { readonly subsystemVendorId: number; readonly subsystemId: number } = { subsystemVendorId: 0x1af4, subsystemId: 0x1100 };
const id = (vendorId: number, deviceId: number, classCode: number, revision: number, sub = qemu): PciIdentity => ({
  vendorId, deviceId, classCode, revision, subsystemVendorId: sub.subsystemVendorId, subsystemId: sub.subsystemId,
});
const mem32 = (size: bigint, prefetchable = false) => ({ size, kind: "memory32" as const, prefetchable });
const mem64 = (size: bigint, prefetchable = false) => ({ size, kind: "memory64" as const, prefetchable });
const io = (size: bigint) => ({ size, kind: "io" as const, prefetchable: false });
const inert = (name: string, identity: PciIdentity, bars: InertModel["bars"] = [], intxPin = 0, msiVectors = 0) =>
  (): DeviceModel => new InertModel({ name, identity, bars, intxPin, msiVectors });

/** The default machine's description: QEMU q35 with intel-iommu, as in the guest test bed. */
export function defaultMachineSpec(): MachineSpec {
  return {
    description: "q35 with intel-iommu, 3 edu devices",
    kernelRelease: "6.1.0",
    drivers: ["pcieport", "e1000"],
    iommu: {
      addressWidth: 39,
      // 4 KiB plus the 2 MiB and 1 GiB second-level superpages QEMU's VT-d advertises (SLLPS).
      pgsizeBitmap: (1n << 12n) | (1n << 21n) | (1n << 30n),
      reserved: [{ start: 0xfee0_0000n, end: 0xfeef_ffffn, type: "msi" }],
      dmaEntryLimit: 65535,
      iotlbEntries: 512,
    },
    functions: [
      { address: "00:00.0", kind: "host-bridge", model: inert("q35-host", id(0x8086, 0x29c0, 0x060000, 0)) },
      { address: "00:01.0", kind: "endpoint", model: inert("VGA", id(0x1234, 0x1111, 0x030000, 2), [mem32(0x100_0000n, true), undefined, mem32(0x1000n)]) },
      { address: "00:02.0", kind: "endpoint", express: true, model: inert("e1000e", id(0x8086, 0x10d3, 0x020000, 0, { subsystemVendorId: 0x8086, subsystemId: 0 }), [mem32(0x20000n), mem32(0x20000n), io(0x20n), mem32(0x4000n)], 1) },
      { address: "00:03.0", kind: "endpoint", model: eduModel },
      { address: "00:04.0", kind: "pci-bridge", secondaryBus: 1, model: inert("pci-bridge", id(0x1b36, 0x0001, 0x060400, 0), [mem64(0x100n)], 1, 1) },
      { address: "00:05.0", kind: "pcie-root-port", secondaryBus: 2, acs: true, model: inert("pcie-root-port", id(0x1b36, 0x000c, 0x060400, 0), [mem32(0x1000n)], 1) },
      { address: "00:06.0", kind: "endpoint", express: true, model: inert("nvme", id(0x1b36, 0x0010, 0x010802, 2), [mem64(0x4000n)], 1) },
      { address: "00:1f.0", kind: "endpoint", model: inert("ICH9 LPC", id(0x8086, 0x2918, 0x060100, 2)) },
      { address: "00:1f.2", kind: "endpoint", model: inert("ICH9 AHCI", id(0x8086, 0x2922, 0x010601, 2), [undefined, undefined, undefined, undefined, io(0x20n), mem32(0x1000n)], 1, 1) },
      { address: "00:1f.3", kind: "endpoint", model: inert("ICH9 SMBus", id(0x8086, 0x2930, 0x0c0500, 2), [undefined, undefined, undefined, undefined, io(0x40n)], 1) },
      { address: "01:01.0", kind: "endpoint", model: eduModel },
      { address: "01:02.0", kind: "endpoint", model: inert("e1000", id(0x8086, 0x100e, 0x020000, 3), [mem32(0x20000n), io(0x40n)], 1) },
      { address: "02:00.0", kind: "endpoint", model: eduModel },
    ],
  };
}
