/**
 * `vfio info`: describes a VFIO device. `--socket PATH` reaches one served over vfio-user.
 * (The kernel form, `vfio info <address>`, comes with the kernel backend's command.)
 */
import { VfioUsageError } from "../../api/errors.js";
import type { Command } from "../command.js";
import { infoOverSocket } from "../info-socket.js";

export const infoCommand: Command = {
  name: "info",
  summary: "describe a VFIO device: regions, interrupts, identity",
  usage: `usage: vfio info --socket PATH [--json] [--no-fds]

Describes a device served over vfio-user on a UNIX socket: regions (size, offset, flags,
capabilities), interrupt indexes, PCI identity, and the server's vfio-user capabilities.
`,
  async run(args, io) {
    let socket: string | undefined;
    let json = false;
    let fds = true;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === "--socket") {
        socket = args[++i];
        if (socket === undefined) throw new VfioUsageError("--socket needs a path");
      } else if (a.startsWith("--socket=")) socket = a.slice("--socket=".length);
      else if (a === "--json") json = true;
      else if (a === "--no-fds") fds = false;
      else throw new VfioUsageError(`unexpected argument '${a}'`);
    }
    if (socket === undefined) throw new VfioUsageError("--socket PATH is required");
    return infoOverSocket(socket, io, { json, fds });
  },
};
