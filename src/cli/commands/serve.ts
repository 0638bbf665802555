/**
 * `vfio serve <model> --socket PATH`: hosts a device model over vfio-user on a UNIX socket,
 * one client at a time, until SIGINT or SIGTERM (the vhost-user backend conventions the
 * vfio-user spec borrows: no daemonizing, honour SIGTERM; VFIO-USER.md §5).
 */
import { VfioUsageError } from "../../api/errors.js";
import { VfioUserServer } from "../../user/server.js";
import type { Command } from "../command.js";
import { deviceModels } from "../device-models.js";

const usage = `usage: vfio serve <model> --socket PATH [--no-fds]

Serves a device model over vfio-user on a UNIX socket, to one client at a time.
Stops on SIGINT or SIGTERM and removes the socket.

models:
${Object.entries(deviceModels).map(([name, m]) => `  ${name.padEnd(8)}${m.summary}`).join("\n")}

options:
  --socket PATH   where to create the socket (--socket-path=PATH is accepted too)
  --no-fds        serve without fd passing: DMA by DMA_READ/DMA_WRITE messages, no interrupts
`;

function parse(args: readonly string[]): { model: string; socket: string; fds: boolean } {
  let model: string | undefined;
  let socket: string | undefined;
  let fds = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--socket" || a === "--socket-path") {
      socket = args[++i];
      if (socket === undefined) throw new VfioUsageError(`${a} needs a path`);
    } else if (a.startsWith("--socket=") || a.startsWith("--socket-path=")) {
      socket = a.slice(a.indexOf("=") + 1);
    } else if (a === "--no-fds") {
      fds = false;
    } else if (a.startsWith("-")) {
      throw new VfioUsageError(`unknown option ${a}`);
    } else if (model === undefined) {
      model = a;
    } else {
      throw new VfioUsageError(`unexpected argument '${a}'`);
    }
  }
  if (model === undefined) throw new VfioUsageError(`which model? one of: ${Object.keys(deviceModels).join(", ")}`);
  if (!(model in deviceModels)) throw new VfioUsageError(`no model '${model}'; one of: ${Object.keys(deviceModels).join(", ")}`);
  if (!socket) throw new VfioUsageError("--socket PATH is required");
  return { model, socket, fds };
}

export const serveCommand: Command = {
  name: "serve",
  summary: "serve a device model (edu) over vfio-user on a UNIX socket",
  usage,
  async run(args, io) {
    const { model, socket, fds } = parse(args);
    const server = await VfioUserServer.listen(deviceModels[model]!.create(), socket, {
      fds,
      onDisconnect: (error) => io.stderr.write(`client left${error ? `: ${error.message}` : ""}\n`),
    });
    io.stdout.write(`serving ${model} on ${socket}${fds ? "" : " (no fd passing)"}; Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await server.close();
    io.stdout.write(`stopped after ${server.served} client${server.served === 1 ? "" : "s"}\n`);
    return 0;
  },
};
