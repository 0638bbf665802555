/**
 * The edu driver (src/drivers/edu.ts) runs unchanged through the vfio-user client against the
 * vfio-user server hosting the edu model: the same behaviour suite as on the model double, the
 * emulated machine and real Linux VFIO.
 */
import { EduDevice } from "../../src/devices/edu.js";
import { VfioUserClient } from "../../src/user/client.js";
import { VfioUserServer } from "../../src/user/server.js";
import { eduDriverSuite } from "../drivers/edu-suite.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

for (const transport of [
  { name: "vfio-user with fds (memfd DMA, eventfd MSI)", fds: true, dmaFds: true },
  { name: "vfio-user with fds, DMA by message on the twin socket", fds: true, dmaFds: false },
  { name: "vfio-user without fds (DMA_READ/WRITE messages, polling)", fds: false, dmaFds: false },
]) {
  eduDriverSuite(
    transport.name,
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vfio-user-edu-"));
      const socketPath = path.join(dir, "edu.sock");
      const edu = new EduDevice();
      const server = await VfioUserServer.listen(edu, socketPath, { fds: transport.fds });
      const client = await VfioUserClient.connect(socketPath, { fds: transport.fds, dmaFds: transport.dmaFds });
      return {
        device: client,
        dma: client,
        deviceBuffer: () => edu.dmaBuffer(),
        close: async () => {
          await client.close();
          await server.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    { mappableBar0: false, interrupts: transport.fds },
  );
}
