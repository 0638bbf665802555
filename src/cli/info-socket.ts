/**
 * `vfio info --socket PATH`: describes a device served over vfio-user exactly as `vfio info`
 * describes a kernel one (describe-vfio-device.ts renders both).
 */
import { VfioUserClient } from "../user/client.js";
import type { CommandIo } from "./command.js";
import { describeVfioDevice, formatVfioDeviceDescription, vfioDeviceDescriptionJson } from "./describe-vfio-device.js";

export async function infoOverSocket(path: string, io: CommandIo, options: { readonly json?: boolean; readonly fds?: boolean } = {}): Promise<number> {
  const client = await VfioUserClient.connect(path, { fds: options.fds ?? true });
  try {
    const description = await describeVfioDevice(client);
    if (options.json) {
      const json = { ...(vfioDeviceDescriptionJson(description) as object), vfioUser: { version: `0.${client.minor}`, capabilities: { ...client.serverCaps, pgsizes: Number(client.serverCaps.pgsizes) }, twinSocket: client.twinSocket } };
      io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      io.stdout.write(formatVfioDeviceDescription(description));
      const caps = client.serverCaps;
      io.stdout.write(`  vfio-user 0.${client.minor}: max_msg_fds ${caps.maxMsgFds}, max_data_xfer_size ${caps.maxDataXferSize}, max_dma_maps ${caps.maxDmaMaps}${caps.writeMultiple ? ", write_multiple" : ""}${client.twinSocket ? ", twin socket" : ""}\n`);
    }
    return 0;
  } finally {
    await client.close();
  }
}
