/**
 * `vfio serve <model> --socket PATH`: hosts a device model over vfio-user on a UNIX socket,
 * one client at a time, until SIGINT or SIGTERM (the vhost-user backend conventions the
 * vfio-user spec borrows: no daemonizing, honour SIGTERM; VFIO-USER.md §5).
 */
import { VfioUserServer } from "../../user/server.js";
import type { Command } from "../command.js";
import { deviceModels } from "../device-models.js";
import { parseCommandArgs, usageError } from "../parse-args.js";
import { asSocketError, checkServeSocketPath } from "../socket-path.js";

const usage = `usage: vfio serve <model> --socket PATH [--no-fds] [model options]

Serves a device model over vfio-user on a UNIX socket, to one client at a time.
Stops on SIGINT or SIGTERM and removes the socket.

models:
${Object.entries(deviceModels).map(([name, m]) => `  ${name.padEnd(8)}${m.summary}`).join("\n")}

options:
  --socket PATH   where to create the socket (--socket-path=PATH is accepted too)
  --no-fds        serve without fd passing: DMA by DMA_READ/DMA_WRITE messages, no interrupts
${Object.values(deviceModels).flatMap((m) => m.optionHelp ?? []).join("\n")}
`;

/** The model, socket path and fd passing of `vfio serve` arguments; a VfioUsageError for anything else. */
function parse(args: readonly string[]): { model: string; socket: string; fds: boolean; values: Record<string, string | boolean | undefined> } {
  // Every model's options parse; a model's options given to another model are refused below.
  const modelOptions: Record<string, { type: "string" }> = Object.assign({}, ...Object.values(deviceModels).map((m) => m.options ?? {}));
  const { values, positionals } = parseCommandArgs("serve", args, {
    ...modelOptions, socket: { type: "string" }, "socket-path": { type: "string" }, "no-fds": { type: "boolean" },
  }, { min: 0, max: 1, name: "model" });
  const models = Object.keys(deviceModels).join(", ");
  const model = positionals[0];
  if (model === undefined) throw usageError("serve", `which model? one of: ${models}`);
  if (!(model in deviceModels)) throw usageError("serve", `no model '${model}'; one of: ${models}`);
  if (values.socket !== undefined && values["socket-path"] !== undefined) throw usageError("serve", "give --socket or --socket-path, not both");
  const socket = values.socket ?? values["socket-path"];
  if (!socket) throw usageError("serve", "--socket PATH is required");
  const foreign = Object.keys(modelOptions).find((name) => (values as Record<string, unknown>)[name] !== undefined && !(name in (deviceModels[model]!.options ?? {})));
  if (foreign) throw usageError("serve", `--${foreign} is not an option of the ${model} model`);
  return { model, socket, fds: values["no-fds"] !== true, values: values as Record<string, string | boolean | undefined> };
}

/** `vfio serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "serve a device model (edu, nvme) over vfio-user on a UNIX socket",
  usage,
  async run(args, io) {
    const { model, socket, fds, values } = parse(args);
    await checkServeSocketPath(socket);
    const device = deviceModels[model]!.create(values);
    const server = await VfioUserServer.listen(device, socket, {
      fds,
      onDisconnect: (error) => io.stderr.write(`client left${error ? `: ${error.message}` : ""}\n`),
    }).catch((error: unknown) => {
      throw asSocketError("bind", socket, error);
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
    (device as { close?(): void }).close?.();
    io.stdout.write(`stopped after ${server.served} client${server.served === 1 ? "" : "s"}\n`);
    return 0;
  },
};
