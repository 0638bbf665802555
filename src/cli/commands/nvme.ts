/**
 * `vfio nvme identify|read|write|perf <device>`: the userspace NVMe driver (drivers/nvme) from
 * the command line, on a controller bound to vfio-pci, on the emulated machine (--emulated) or
 * served over vfio-user (--socket PATH). nvme-cli's `id-ctrl`/`id-ns`/`read`/`write` and fio's
 * randread/read jobs are the models for what each prints.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { DmaSpace } from "../../api/dma-space.js";
import type { VfioDevice } from "../../api/device.js";
import { VfioUsageError } from "../../api/errors.js";
import { openDevice } from "../../api/open-device.js";
import { parsePciAddress } from "../../api/pci-address.js";
import { NvmeController, runWorkload, type NvmeCompletion, type WorkloadResult } from "../../drivers/nvme/index.js";
import { KernelSystem } from "../../kernel/system.js";
import { VfioUserClient } from "../../user/client.js";
import type { Command, CommandIo } from "../command.js";
import { emulatedSystem } from "../emulated.js";
import { formatBytes } from "../format.js";
import { parseCommandArgs, usageError } from "../parse-args.js";
import { asSocketError, checkConnectSocketPath } from "../socket-path.js";
import { nvmeReadOutput, renderIdentify, identifyReport } from "./nvme-report.js";

const USAGE = `usage: vfio nvme identify (<device> | --emulated | --socket PATH) [--json]
       vfio nvme read (<device> | --emulated | --socket PATH) --lba N [--blocks N] [--output FILE]
       vfio nvme write (<device> | --emulated | --socket PATH) --lba N (--input FILE | --fill BYTE --blocks N)
       vfio nvme perf (<device> | --emulated | --socket PATH) [--access random|sequential] [--operation read|write]
                 [--block-size BYTES] [--queue-depth N] [--queues N] [--duration SEC] [--json]
       <device> is a PCI address, or --emulated, or --socket PATH in its place

Drives an NVMe controller from userspace (the vfio-ts NVMe driver) through VFIO: <device> is
a PCI address bound to vfio-pci (such as 0000:00:06.0), or use --emulated or --socket PATH.

  identify   the controller (serial, model, firmware, MDTS, queues) and every active namespace
  read       blocks from --lba; a hex dump, or the raw bytes into --output FILE
  write      blocks at --lba from --input FILE (a whole number of blocks) or --fill BYTE
  perf       keeps --queue-depth commands in flight on each of --queues I/O queues for
             --duration seconds and prints IOPS, bandwidth and latency (p50, p99); a progress
             line every second on stderr. write perf overwrites the namespace.

  --namespace N     namespace ID (default: the first active one)
  --completion M    msix (default), intx or poll: how completions are noticed
  --access A        perf: random (default) or sequential
  --operation O     perf: read (default) or write
  --block-size B    perf: bytes per command (default 4096)
  --queue-depth N   perf: commands in flight per queue (default 32)
  --queues N        perf: I/O queues (default 1)
  --duration SEC    perf: run time (default 5)
  --json            print the result as JSON
  --emulated        a controller of the built-in emulated machine (0000:00:06.0)
  --socket PATH     a controller served over vfio-user (vfio serve nvme)
  --group N         the IOMMU group, when sysfs cannot tell it
`;

const OPTIONS = {
  json: { type: "boolean" }, emulated: { type: "boolean" }, socket: { type: "string" }, group: { type: "string" },
  namespace: { type: "string" }, completion: { type: "string" }, lba: { type: "string" }, blocks: { type: "string" },
  output: { type: "string" }, input: { type: "string" }, fill: { type: "string" }, access: { type: "string" },
  operation: { type: "string" }, "block-size": { type: "string" }, "queue-depth": { type: "string" }, queues: { type: "string" },
  duration: { type: "string" },
} as const;

/** A non-negative integer option, or a usage error naming it. */
function integer(name: string, value: string | undefined, fallback: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) {
    if (fallback === undefined) throw usageError("nvme", `--${name} is required`);
    return fallback;
  }
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw usageError("nvme", `--${name} needs an integer from ${min} to ${max}, not '${value}'`);
  return n;
}

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw usageError("nvme", `--${name} is one of ${allowed.join(", ")}, not '${value}'`);
  return value as T;
}

interface Target {
  readonly device: VfioDevice;
  readonly dma: DmaSpace;
  close(): Promise<void>;
}

async function openTarget(values: { emulated?: boolean; socket?: string; group?: string }, positionals: readonly string[]): Promise<Target> {
  if (values.socket !== undefined) {
    if (values.socket === "") throw usageError("nvme", "--socket needs the path of a vfio-user server's socket");
    if (positionals.length > 0 || values.emulated) throw usageError("nvme", "give a device address, --emulated or --socket PATH, one of them");
    await checkConnectSocketPath(values.socket);
    const client = await VfioUserClient.connect(values.socket).catch((error: unknown) => {
      throw asSocketError("connect", values.socket!, error);
    });
    return { device: client, dma: client, close: () => client.close() };
  }
  if (values.group !== undefined && !/^\d+$/.test(values.group)) throw usageError("nvme", `--group needs a group number, not '${values.group}'`);
  if (positionals.length !== 1) throw usageError("nvme", "give exactly one device address (e.g. vfio nvme identify 0000:00:06.0)");
  const name = parsePciAddress(positionals[0]!);
  const system = values.emulated ? emulatedSystem() : new KernelSystem();
  try {
    const opened = await openDevice(system, name, values.group === undefined ? {} : { group: Number(values.group) });
    return {
      device: opened.device,
      dma: opened.dma,
      close: async () => {
        await opened.close();
        await system.close();
      },
    };
  } catch (error) {
    await system.close();
    throw error;
  }
}

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>["values"];

async function run(action: string, values: Values, positionals: readonly string[], io: CommandIo): Promise<number> {
  const completion = choice<NvmeCompletion>("completion", values.completion, ["msix", "intx", "poll"], "msix");
  const queues = action === "perf" ? integer("queues", values.queues, 1, 1, 64) : 1;
  const queueDepth = action === "perf" ? integer("queue-depth", values["queue-depth"], 32, 1, 4095) : 32;
  // Every usage error before the device is opened.
  if (action === "read" || action === "write") integer("lba", values.lba, undefined);
  if (action === "read") integer("blocks", values.blocks, 1, 1);
  if (action === "write" && values.input === undefined) {
    integer("fill", values.fill, undefined, 0, 255);
    integer("blocks", values.blocks, undefined, 1);
  }
  if (action === "perf") {
    integer("block-size", values["block-size"], 4096, 1);
    integer("duration", values.duration, 5, 1, 86400);
    choice("access", values.access, ["random", "sequential"], "random");
    choice("operation", values.operation, ["read", "write"], "read");
  }
  const target = await openTarget(values, positionals);
  try {
    const controller = await NvmeController.open(target.device, target.dma, { completion, ioQueues: queues, queueDepth });
    try {
      const ns = controller.namespace(values.namespace === undefined ? undefined : integer("namespace", values.namespace, undefined, 1, 0xfffffffe));
      switch (action) {
        case "identify": {
          const report = identifyReport(controller);
          io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderIdentify(report));
          return 0;
        }
        case "read": {
          const lba = integer("lba", values.lba, undefined);
          const blocks = integer("blocks", values.blocks, 1, 1);
          const data = await ns.readBytes(lba, blocks);
          if (values.output !== undefined) await writeFile(values.output, data).catch((e: unknown) => fileError("--output", values.output!, e));
          else io.stdout.write(nvmeReadOutput(data, lba * ns.blockSize));
          return 0;
        }
        case "write": {
          const lba = integer("lba", values.lba, undefined);
          let data: Uint8Array;
          if (values.input !== undefined) {
            if (values.fill !== undefined) throw usageError("nvme", "give --input FILE or --fill BYTE, not both");
            data = await readFile(values.input).catch((e: unknown) => fileError("--input", values.input!, e));
            if (data.length === 0 || data.length % ns.blockSize !== 0) {
              throw usageError("nvme", `--input ${values.input} holds ${data.length} bytes, not a whole number of ${ns.blockSize}-byte blocks`);
            }
          } else {
            const fill = integer("fill", values.fill, undefined, 0, 255);
            data = new Uint8Array(integer("blocks", values.blocks, undefined, 1) * ns.blockSize).fill(fill);
          }
          await ns.writeBytes(lba, data);
          io.stdout.write(values.json ? `${JSON.stringify({ nsid: ns.nsid, lba, blocks: data.length / ns.blockSize })}\n` : `wrote ${data.length / ns.blockSize} blocks (${formatBytes(BigInt(data.length))}) at LBA ${lba} of namespace ${ns.nsid}\n`);
          return 0;
        }
        default: {
          const blockSize = integer("block-size", values["block-size"], 4096, 1);
          const duration = integer("duration", values.duration, 5, 1, 86400);
          const access = choice("access", values.access, ["random", "sequential"], "random");
          const operation = choice("operation", values.operation, ["read", "write"], "read");
          const what = `${access} ${operation}, ${blockSize} bytes, ${queues} queue${queues > 1 ? "s" : ""} × depth ${queueDepth}, ${controller.completion}`;
          const result = await runWorkload(controller, ns, {
            access, operation, blockSize, queueDepth, queues, durationMs: duration * 1000,
            onProgress: (p) => io.stderr.write(`${io.stderr.isTTY ? "\r" : ""}[${(p.elapsedMs / 1000).toFixed(0)}/${duration} s] ${Math.round(p.iops)} IOPS, ${p.mibPerSecond.toFixed(1)} MiB/s${io.stderr.isTTY ? "" : "\n"}`),
          });
          if (io.stderr.isTTY) io.stderr.write("\n");
          io.stdout.write(values.json ? `${JSON.stringify({ device: controller.name, nsid: ns.nsid, access, operation, blockSize, queues, queueDepth, completion: controller.completion, ...result }, null, 2)}\n` : renderPerf(what, result));
          return result.errors > 0 ? 1 : 0;
        }
      }
    } finally {
      await controller.close();
    }
  } finally {
    await target.close();
  }
}

function renderPerf(what: string, r: WorkloadResult): string {
  const us = (v: number) => `${v.toFixed(1)} µs`;
  return [
    `${what}: ${Math.round(r.iops)} IOPS, ${r.mibPerSecond.toFixed(1)} MiB/s over ${(r.elapsedMs / 1000).toFixed(1)} s (${r.completed} commands)`,
    `latency p50 ${us(r.latencyUs.p50)}, p99 ${us(r.latencyUs.p99)}, max ${us(r.latencyUs.max)}, mean ${us(r.latencyUs.mean)}`,
    ...(r.errors > 0 ? [`${r.errors} commands failed (first status 0x${(r.firstErrorStatus ?? 0).toString(16)})`] : []),
    "",
  ].join("\n");
}

function fileError(option: string, path: string, error: unknown): never {
  const code = (error as { code?: string }).code ?? "EIO";
  throw new VfioUsageError(`${option} ${path}: ${code}`, code);
}

export const nvmeCommand: Command = {
  name: "nvme",
  summary: "identify, read, write and benchmark an NVMe controller with the userspace driver",
  usage: USAGE,
  async run(args: readonly string[], io: CommandIo): Promise<number> {
    const [action, ...rest] = args;
    if (action === undefined || !["identify", "read", "write", "perf"].includes(action)) {
      throw usageError("nvme", action === undefined ? "give an action: identify, read, write or perf" : `unknown action '${action}' (identify, read, write, perf)`);
    }
    const { values, positionals } = parseCommandArgs("nvme", rest, OPTIONS);
    return run(action, values, positionals, io);
  },
};
