/** The device models `vfio serve` can host, by name. */
import type { DeviceModel } from "../api/hosting.js";
import { EduDevice } from "../devices/edu.js";
import { FileStore, MemoryStore } from "../devices/nvme/block-store.js";
import { NvmeDevice } from "../devices/nvme/controller.js";
import type { OptionTable } from "./parse-args.js";
import { usageError } from "./parse-args.js";

export interface ServableModel {
  /** One line for `vfio serve --help`. */
  readonly summary: string;
  /** The model's own options (`vfio serve nvme --backing FILE`), with their help lines. */
  readonly options?: OptionTable;
  readonly optionHelp?: readonly string[];
  /** A fresh instance for one server, from the model's option values; a usage error for bad ones. */
  create(values: Readonly<Record<string, string | boolean | undefined>>): DeviceModel;
}

/** `--size`: bytes, with an optional K/M/G suffix (binary units, as qemu-img). */
function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  const n = m ? Number(m[1]) * 1024 ** " KMG".indexOf((m[2] || " ").toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 4096 || n > 1 << 30 || n % 4096 !== 0) throw usageError("serve", `--size needs a multiple of 4 KiB up to 1G (e.g. 64M), not '${text}'`);
  return n;
}

function nvme(values: Readonly<Record<string, string | boolean | undefined>>): DeviceModel {
  const { backing, size } = values;
  if (typeof backing === "string" && size !== undefined) throw usageError("serve", "give --backing FILE or --size N, not both");
  const blockSize = values["block-size"] === undefined ? 512 : Number(values["block-size"]);
  if (![512, 1024, 2048, 4096].includes(blockSize)) throw usageError("serve", `--block-size is 512, 1024, 2048 or 4096, not '${String(values["block-size"])}'`);
  const store = typeof backing === "string" ? new FileStore(backing) : new MemoryStore(parseSize(typeof size === "string" ? size : "64M"));
  if (store.size < BigInt(blockSize)) {
    store.close();
    throw usageError("serve", `--backing ${String(backing)} is smaller than one ${blockSize}-byte block`);
  }
  return new NvmeDevice({ serial: "vfio-ts", namespaces: [{ store, blockSize }] });
}

/** Model name → what `vfio serve` needs to offer it. */
export const deviceModels: Readonly<Record<string, ServableModel>> = {
  edu: { summary: "QEMU's edu teaching device (factorial, DMA, MSI)", create: () => new EduDevice() },
  nvme: {
    summary: "an NVMe controller (QEMU's, modelled) with one namespace",
    options: { backing: { type: "string" }, size: { type: "string" }, "block-size": { type: "string" } } as const,
    optionHelp: [
      "  --backing FILE  nvme: the namespace is FILE, read and written in place",
      "  --size N        nvme: the namespace is N bytes of memory instead (default 64M)",
      "  --block-size B  nvme: 512 (default), 1024, 2048 or 4096 bytes a block",
    ],
    create: nvme,
  },
};
