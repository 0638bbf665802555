/**
 * The NVMe driver: controller bring-up and teardown, admin and I/O queue pairs, PRPs, Identify,
 * and block I/O on every active namespace (NVMe Base Specification 2.0, NVM Command Set 1.0).
 */
export * from "./controller.js";
export * from "./namespace.js";
export * from "./queue-pair.js";
export * from "./status.js";
export * from "./identify.js";
export * from "./registers.js";
export * from "./command.js";
export * from "./nvm-commands.js";
export * as nvmeAdmin from "./admin-commands.js";
export * from "./prp.js";
export type { NvmeCompletion } from "./completion-routing.js";
export * from "./workload.js";
