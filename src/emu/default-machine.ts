/**
 * The built-in machine: the same PCI topology as the QEMU guest the conformance suite's golden
 * file comes from (scripts/guest: q35, intel-iommu, Debian's Linux 6.1), with the bindings its
 * /init leaves (every edu and the NVMe on vfio-pci, with `guestInit`), so the same scenarios give the same
 * outcomes on both. Group numbers, drivers, IRQs and reset methods are those the guest's sysfs
 * shows (test/fixtures/sysfs/guest-q35-e1000-bound).
 *
 *   group 0  00:00.0 host bridge
 *   group 1  00:03.0 edu                                   vfio-pci, no reset method
 *   group 2  00:04.0 PCI-PCI bridge, 01:01.0 edu (vfio-pci), 01:02.0 e1000 (e1000): not viable
 *   group 3  00:05.0 PCIe root port (ACS)                  pcieport
 *   group 4  00:06.0 NVMe (devices/nvme, 1 MiB in memory)  vfio-pci
 *   group 5  00:07.0 virtio 9p                             virtio-pci
 *   group 6  00:1f.0/.2/.3 ICH9 LPC, AHCI, SMBus (one multi-function slot, no ACS)
 *   group 7  02:00.0 edu behind the root port              vfio-pci, bus reset
 */
import type { DeviceModel, MsixSpec, PciIdentity } from "../api/hosting.js";
import type { MachineSpec } from "./machine.js";
import { InertModel } from "./pci/inert-model.js";
import { eduModel } from "./models.js";
import { MemoryStore } from "../devices/nvme/block-store.js";
import { NvmeDevice } from "../devices/nvme/controller.js";

const qemu: { readonly subsystemVendorId: number; readonly subsystemId: number } = { subsystemVendorId: 0x1af4, subsystemId: 0x1100 };
const id = (vendorId: number, deviceId: number, classCode: number, revision: number, sub = qemu): PciIdentity => ({
  vendorId, deviceId, classCode, revision, subsystemVendorId: sub.subsystemVendorId, subsystemId: sub.subsystemId,
});
const mem32 = (size: bigint, prefetchable = false) => ({ size, kind: "memory32" as const, prefetchable });
const mem64 = (size: bigint, prefetchable = false) => ({ size, kind: "memory64" as const, prefetchable });
const io = (size: bigint) => ({ size, kind: "io" as const, prefetchable: false });
const inert = (name: string, identity: PciIdentity, bars: InertModel["bars"] = [], intxPin = 0, msiVectors = 0, msix?: MsixSpec) =>
  (): DeviceModel => new InertModel({ name, identity, bars, intxPin, msiVectors, ...(msix ? { msix } : {}) });

export interface DefaultMachineOptions {
  /**
   * Boot with the bindings the guest's /init makes (every edu and the NVMe on vfio-pci).
   * Default false: the machine as Linux leaves it before /init, every edu without a driver.
   */
  readonly guestInit?: boolean;
}

/** The default machine's description: QEMU q35 with intel-iommu, as in the guest test bed. */
export function defaultMachineSpec(options: DefaultMachineOptions = {}): MachineSpec {
  const spec = guestMachine();
  if (options.guestInit) return spec;
  return { ...spec, functions: spec.functions.map(({ driverOverride: _, ...rest }) => rest) };
}

function guestMachine(): MachineSpec {
  return {
    description: "QEMU q35 with intel-iommu (the test guest's topology)",
    kernelRelease: "6.1.0-56-amd64",
    // The guest's PCI drivers (/sys/bus/pci/drivers): built-ins plus the e1000 module.
    drivers: ["pcieport", "shpchp", "serial", "8250_mid", "8250_pericom", "agpgart-intel", "agpgart-sis", "agpgart-via", "iosf_mbi_pci", "xen-platform-pci", "virtio-pci", "e1000", "uio_pci_generic"],
    iommu: {
      // intel-iommu cap 0xd2008c22260206: MGAW 39 bits, SLLPS 2 MiB and 1 GiB; ecap without snoop control.
      addressWidth: 39,
      pgsizeBitmap: (1n << 12n) | (1n << 21n) | (1n << 30n),
      reserved: [{ start: 0xfee0_0000n, end: 0xfeef_ffffn, type: "msi" }],
      dmaEntryLimit: 65535,
      iotlbEntries: 512,
    },
    functions: [
      { address: "00:00.0", kind: "host-bridge", irq: 0, model: inert("q35-host", id(0x8086, 0x29c0, 0x060000, 0)) },
      { address: "00:03.0", kind: "endpoint", irq: 11, resetMethod: "none", driverOverride: "vfio-pci", model: eduModel },
      { address: "00:04.0", kind: "pci-bridge", secondaryBus: 1, irq: 20, model: inert("pci-bridge", id(0x1b36, 0x0001, 0x060400, 0, { subsystemVendorId: 0, subsystemId: 0 }), [mem64(0x100n)], 1, 1) },
      { address: "00:05.0", kind: "pcie-root-port", secondaryBus: 2, acs: true, irq: 21, model: inert("pcie-root-port", id(0x1b36, 0x000c, 0x060400, 0, { subsystemVendorId: 0x1b36, subsystemId: 0 }), [mem32(0x1000n)], 1) },
      { address: "00:06.0", kind: "endpoint", express: true, irq: 11, resetMethod: "flr", driverOverride: "vfio-pci", model: () => new NvmeDevice({ namespaces: [{ store: new MemoryStore(1 << 20) }] }) },
      { address: "00:07.0", kind: "endpoint", irq: 23, model: inert("virtio-9p", id(0x1af4, 0x1009, 0x000200, 0, { subsystemVendorId: 0x1af4, subsystemId: 0x0009 }), [io(0x40n), mem32(0x1000n), undefined, undefined, mem64(0x4000n, true)], 1) },
      { address: "00:1f.0", kind: "endpoint", irq: 0, model: inert("ICH9 LPC", id(0x8086, 0x2918, 0x060100, 2)) },
      { address: "00:1f.2", kind: "endpoint", irq: 10, model: inert("ICH9 AHCI", id(0x8086, 0x2922, 0x010601, 2), [undefined, undefined, undefined, undefined, io(0x20n), mem32(0x1000n)], 1, 1) },
      { address: "00:1f.3", kind: "endpoint", irq: 10, model: inert("ICH9 SMBus", id(0x8086, 0x2930, 0x0c0500, 2), [undefined, undefined, undefined, undefined, io(0x40n)], 1) },
      { address: "01:01.0", kind: "endpoint", irq: 10, resetMethod: "bus", driverOverride: "vfio-pci", model: eduModel },
      { address: "01:02.0", kind: "endpoint", irq: 22, resetMethod: "none", model: inert("e1000", id(0x8086, 0x100e, 0x020000, 3), [mem32(0x20000n), io(0x40n)], 1) },
      { address: "02:00.0", kind: "endpoint", irq: 10, resetMethod: "bus", driverOverride: "vfio-pci", model: eduModel },
    ],
  };
}
