/**
 * The NVMe driver suite through the vfio-user client against the vfio-user server hosting the
 * NVMe model: BAR0 is not mappable there (an MMIO model), so registers go by REGION_READ and
 * posted REGION_WRITEs; DMA through the client's memfds or by DMA_READ/WRITE messages.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MemoryStore } from "../../src/devices/nvme/block-store.js";
import { NvmeDevice } from "../../src/devices/nvme/controller.js";
import { VfioUserClient } from "../../src/user/client.js";
import { VfioUserServer } from "../../src/user/server.js";
import { nvmeDriverSuite } from "../drivers/nvme/nvme-suite.js";

for (const transport of [
  // The server offers no MSI-X vectors yet (user/served-device.ts answers count 0): the driver
  // falls back to INTx there, so the MSI-X variant runs on the kernel and emulated backends only.
  { name: "vfio-user with fds (memfd DMA, eventfd INTx)", fds: true, dmaFds: true, completions: ["intx", "poll"] as const },
  { name: "vfio-user without fds (DMA_READ/WRITE messages, polling)", fds: false, dmaFds: false, completions: ["poll"] as const },
]) {
  nvmeDriverSuite(
    transport.name,
    { serial: "served", model: "QEMU NVMe Ctrl", maxTransferBytes: 2 ** 5 * 4096, namespaces: [{ nsid: 1, blocks: 4096n, blockSize: 512 }, { nsid: 2, blocks: 256n, blockSize: 4096 }] },
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vfio-user-nvme-"));
      const socketPath = path.join(dir, "nvme.sock");
      const model = new NvmeDevice({ serial: "served", mdts: 5, namespaces: [{ store: new MemoryStore(2 << 20) }, { store: new MemoryStore(1 << 20), blockSize: 4096 }] });
      const server = await VfioUserServer.listen(model, socketPath, { fds: transport.fds });
      const client = await VfioUserClient.connect(socketPath, { fds: transport.fds, dmaFds: transport.dmaFds });
      return {
        device: client,
        dma: client,
        close: async () => {
          await client.close();
          await server.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    { completions: transport.completions, timeoutMs: 20_000 },
  );
}
