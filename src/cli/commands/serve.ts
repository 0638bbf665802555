/**
 * `vfio serve <model> --socket PATH`: hosts a device model over vfio-user on a UNIX socket,
 * one client at a time, until SIGINT or SIGTERM (the vhost-user backend conventions the
 * vfio-user spec borrows: no daemonizing, honour SIGTERM; VFIO-USER.md §5).
 */
import { defaultServerLimits, type ServerLimits } from "../../user/limits.js";
import type { DmaFailure } from "../../user/server-session.js";
import { VfioUserServer } from "../../user/server.js";
import type { Command } from "../command.js";
import { deviceModels } from "../device-models.js";
import { parseCommandArgs, usageError } from "../parse-args.js";
import { asSocketError, checkServeSocketPath } from "../socket-path.js";

/** The limits as options: name, limit, what it bounds (defaults from limits.ts). */
const limitOptions: readonly (readonly [string, keyof ServerLimits, string])[] = [
  ["max-queued-clients", "maxQueuedClients", "clients waiting while one is served; more are closed at once"],
  ["handshake-timeout", "handshakeTimeoutMs", "ms a new client has to complete VERSION"],
  ["idle-timeout", "idleTimeoutMs", "ms a client may send nothing; 0: never, a guest may idle for hours"],
  ["message-timeout", "messageTimeoutMs", "ms a message, once begun, has to arrive whole"],
  ["max-pending-requests", "maxPendingRequests", "DMA_READ/DMA_WRITE awaiting the client's reply; more DMA fails"],
  ["request-timeout", "requestTimeoutMs", "ms the client has to answer a DMA_READ/DMA_WRITE"],
  ["max-reply-bytes", "maxQueuedReplyBytes", "reply bytes queued unread before the client's requests wait"],
  ["drain-timeout", "drainTimeoutMs", "ms a client may leave its replies unread past that bound"],
  ["max-dma-maps", "maxDmaMaps", "DMA windows a client may map (max_dma_maps)"],
];

const usage = `usage: vfio serve <model> --socket PATH [--no-fds] [model options] [limits]

Serves a device model over vfio-user on a UNIX socket, to one client at a time.
Stops on SIGINT or SIGTERM and removes the socket. Every DMA the device could not
complete is logged on stderr (which request, why).

models:
${Object.entries(deviceModels).map(([name, m]) => `  ${name.padEnd(8)}${m.summary}`).join("\n")}

options:
  --socket PATH   where to create the socket (--socket-path=PATH is accepted too)
  --no-fds        serve without fd passing: DMA by DMA_READ/DMA_WRITE messages, no interrupts
${Object.values(deviceModels).flatMap((m) => m.optionHelp ?? []).join("\n")}

limits (what one client may cost; the defaults suit a VMM):
${limitOptions.map(([name, key, what]) => `  --${`${name} N`.padEnd(24)}${what} (${defaultServerLimits[key]})`).join("\n")}
`;

/** The model, socket path, fd passing, model options and limits of `vfio serve` arguments; a VfioUsageError for anything else. */
function parse(args: readonly string[]): { model: string; socket: string; fds: boolean; values: Record<string, string | boolean | undefined>; limits: Partial<ServerLimits> } {
  // Every model's options parse; a model's options given to another model are refused below.
  const modelOptions: Record<string, { type: "string" }> = Object.assign({}, ...Object.values(deviceModels).map((m) => m.options ?? {}));
  const { values, positionals } = parseCommandArgs("serve", args, {
    ...modelOptions, socket: { type: "string" }, "socket-path": { type: "string" }, "no-fds": { type: "boolean" },
    ...Object.fromEntries(limitOptions.map(([name]) => [name, { type: "string" as const }])),
  }, { min: 0, max: 1, name: "model" });
  const limits: Record<string, number> = {};
  for (const [name, key] of limitOptions) {
    const text = (values as Record<string, unknown>)[name];
    if (typeof text !== "string") continue;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    const least = key === "idleTimeoutMs" || key === "maxQueuedClients" ? 0 : 1;
    if (!Number.isSafeInteger(n) || n < least) throw usageError("serve", `--${name} wants a whole number ≥ ${least}, not '${text}'`);
    limits[key] = n;
  }
  const models = Object.keys(deviceModels).join(", ");
  const model = positionals[0];
  if (model === undefined) throw usageError("serve", `which model? one of: ${models}`);
  if (!(model in deviceModels)) throw usageError("serve", `no model '${model}'; one of: ${models}`);
  if (values.socket !== undefined && values["socket-path"] !== undefined) throw usageError("serve", "give --socket or --socket-path, not both");
  const socket = values.socket ?? values["socket-path"];
  if (!socket) throw usageError("serve", "--socket PATH is required");
  const foreign = Object.keys(modelOptions).find((name) => (values as Record<string, unknown>)[name] !== undefined && !(name in (deviceModels[model]!.options ?? {})));
  if (foreign) throw usageError("serve", `--${foreign} is not an option of the ${model} model`);
  return { model, socket, fds: values["no-fds"] !== true, values: values as Record<string, string | boolean | undefined>, limits };
}

/** `vfio serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "serve a device model (edu, nvme) over vfio-user on a UNIX socket",
  usage,
  async run(args, io) {
    const { model, socket, fds, values, limits } = parse(args);
    await checkServeSocketPath(socket);
    const device = deviceModels[model]!.create(values);
    const server = await VfioUserServer.listen(device, socket, {
      fds,
      ...limits,
      onDisconnect: (error) => io.stderr.write(`client left${error ? `: ${error.message}` : ""}\n`),
      onDmaError: dmaLog((line) => io.stderr.write(line)),
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

/**
 * One line per DMA the device could not complete, at most 20 a second (a client that makes
 * every DMA fail must not flood the log): the rest are counted and the count is logged.
 */
function dmaLog(write: (line: string) => void): (failure: DmaFailure) => void {
  let second = 0;
  let lines = 0;
  let dropped = 0;
  return (f) => {
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      if (dropped > 0) write(`(${dropped} more DMA failures not logged)\n`);
      second = now;
      lines = 0;
      dropped = 0;
    }
    if (++lines > 20) {
      dropped++;
      return;
    }
    write(`DMA ${f.access} of ${f.length} bytes at 0x${f.address.toString(16)} failed: ${f.reason}\n`);
  };
}
