/**
 * The NVMe driver suite on the emulated machine: the default machine's controller at 00:06.0
 * is this project's NVMe model (src/devices/nvme) behind the emulated IOMMU, whose fault log
 * stands in for the guest's DMAR messages.
 */
import { openDevice } from "../../../src/api/open-device.js";
import { defaultMachineSpec } from "../../../src/emu/default-machine.js";
import { EmulatedSystem } from "../../../src/emu/system.js";
import { nvmeDriverSuite } from "./nvme-suite.js";

nvmeDriverSuite(
  "the emulated machine (00:06.0, the NVMe model)",
  { serial: "vfio-ts", model: "QEMU NVMe Ctrl", maxTransferBytes: 2 ** 7 * 4096, namespaces: [{ nsid: 1, blocks: 2048n, blockSize: 512 }] },
  async () => {
    const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
    const opened = await openDevice(system, "0000:00:06.0");
    const faultsBefore = system.machine.faults.length;
    return {
      device: opened.device,
      dma: opened.dma,
      fault: async (access, iova) => system.machine.faults.slice(faultsBefore).some((f) => f.access === access && f.iova === (iova & ~0xfffn)),
      close: () => opened.close(),
    };
  },
);
