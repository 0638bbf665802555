/**
 * The edu driver (src/drivers/edu.ts, written against api/ only) on the kernel backend, with
 * the driver's own behaviour suite, in the test guest's `npm run test:kernel` run.
 *
 * No `faults` hook: the kernel's DMAR log is not an exact record. QEMU's intel-iommu collapses a
 * fault from the same requester while the previous fault record is still pending, so of the
 * demonstration's write-then-read pair sometimes only the write is logged (seen in this guest).
 * dma.test.ts checks that a blocked DMA is logged at all.
 */
import { openDevice } from "../../src/api/open-device.js";
import { KernelSystem } from "../../src/kernel/system.js";
import { eduDriverSuite } from "../drivers/edu-suite.js";
import { EDU, skip } from "./guest.js";

eduDriverSuite(
  `the kernel backend (${EDU}, Linux VFIO)`,
  async () => {
    const system = new KernelSystem();
    const opened = await openDevice(system, EDU);
    return {
      device: opened.device,
      dma: opened.dma,
      close: async () => {
        await opened.close();
        await system.close();
      },
    };
  },
  { skip, timeoutMs: 20_000 },
);
