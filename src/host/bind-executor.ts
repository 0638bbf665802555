/**
 * Runs the steps of a bind-plan.ts plan through the Sysfs interface: every write and every
 * check bounded by a timeout, every device journalled before its first write, and a bind that
 * stops half way rolled back, so no device is left without its driver because of vfio-ts.
 */
import { VfioError, VfioSystemError, VfioUsageError, errnoValue, isVfioError } from "../api/errors.js";
import type { Sysfs } from "../api/sysfs.js";
import { readBindingState, readDriver } from "./binding-state.js";
import { VFIO_PCI, restoreSteps, type BindPlan, type BindStep } from "./bind-plan.js";
import type { Journal, JournalEntry } from "./journal.js";

export interface ExecutorOptions {
  readonly sysfs: Sysfs;
  readonly journal: Journal;
  /** Loads a kernel module (the CLI runs modprobe). Without it a load-module step fails. */
  readonly loadModule?: (module: string) => Promise<void>;
  /** The limit on each write and each check; default 10 s (a PCI unbind may wait on a reset). */
  readonly stepTimeoutMs?: number;
  /** The command that undoes the bind on this machine, for a rollback that fails (default 'vfio restore'). */
  readonly restoreCommand?: string;
  /** How often a check re-reads a driver link while it waits for the kernel; default 20 ms. */
  readonly pollIntervalMs?: number;
  /** Called before each step runs, for progress output. */
  readonly onStep?: (step: BindStep) => void;
  readonly now?: () => Date;
}

/** A step that failed, with what the rollback did. `code` is the failure's code (e.g. "ENODEV", "ETIMEDOUT"). */
export class BindStepError extends VfioError {
  override name = "BindStepError";
  constructor(
    readonly step: BindStep,
    /** Devices put back to their previous driver. */
    readonly rolledBack: readonly string[],
    /** Devices the rollback could not put back: their journal entries are kept for `vfio restore`. */
    readonly notRolledBack: readonly { readonly address: string; readonly error: unknown }[],
    cause: unknown,
    restoreCommand = "vfio restore",
  ) {
    const what = cause instanceof Error ? cause.message : String(cause);
    const back = rolledBack.length > 0 ? `; rolled back ${rolledBack.join(", ")}` : "";
    const stuck = notRolledBack.length > 0
      ? `; could NOT roll back ${notRolledBack.map((n) => n.address).join(", ")} (journal kept: run '${restoreCommand}')`
      : "";
    super(`${what}${back}${stuck}`, isVfioError(cause) ? cause.code : "ESTEP", { cause });
  }
}

const ETIMEDOUT = errnoValue("ETIMEDOUT");

function timeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one step. @throws VfioSystemError (op "sysfs write"/"sysfs read", ETIMEDOUT on a timeout). */
export async function runStep(step: BindStep, options: ExecutorOptions): Promise<void> {
  const { sysfs } = options;
  const limit = options.stepTimeoutMs ?? 10_000;
  const poll = options.pollIntervalMs ?? 20;
  options.onStep?.(step);
  switch (step.kind) {
    case "load-module": {
      if (!options.loadModule) {
        throw new VfioSystemError("open", errnoValue("ENOENT"), "sysfs", `module ${step.module}`, `load it first: modprobe ${step.module}`);
      }
      await timeout(options.loadModule(step.module), limit,
        () => new VfioSystemError("open", ETIMEDOUT, "sysfs", `module ${step.module}`, `modprobe did not finish in ${limit} ms`));
      return;
    }
    case "write": {
      const write = sysfs.write(step.path, step.value).catch((error: unknown) => {
        if (isVfioError(error)) throw error;
        const errno = (error as NodeJS.ErrnoException).errno;
        throw new VfioSystemError("sysfs write", errno ? Math.abs(errno) : errnoValue("EIO"), "sysfs", step.path, step.why, { cause: error });
      });
      await timeout(write, limit,
        () => new VfioSystemError("sysfs write", ETIMEDOUT, "sysfs", step.path, `no answer in ${limit} ms (${step.why})`));
      return;
    }
    case "expect-path":
    case "expect-driver": {
      const deadline = Date.now() + limit;
      for (;;) {
        let actual: string | null | undefined;
        if (step.kind === "expect-path") {
          if ((await sysfs.list(step.path)) !== undefined) return;
        } else {
          actual = await readDriver(sysfs, step.device);
          if (actual === step.driver) return;
        }
        if (Date.now() >= deadline) {
          const seen = step.kind === "expect-path" ? "absent" : actual === null ? "no driver" : `-> ${actual}`;
          throw new VfioSystemError("sysfs read", ETIMEDOUT, "sysfs", step.path, `${step.why}: still ${seen} after ${limit} ms`);
        }
        await sleep(poll);
      }
    }
  }
}

/** Runs steps in order, stopping at the first failure. */
export async function runSteps(steps: readonly BindStep[], options: ExecutorOptions): Promise<void> {
  for (const step of steps) await runStep(step, options);
}

/** Puts one journalled device back and drops its entry. */
export async function restoreDevice(entry: JournalEntry, options: ExecutorOptions): Promise<void> {
  await runSteps(await restoreSteps(options.sysfs, entry), options);
  await options.journal.remove(entry.address, entry.sysfs);
}

/**
 * Executes a bind plan. Each device is re-read and journalled just before its first write;
 * when any step fails, every device touched so far is put back (newest first) and a
 * BindStepError says which step failed and what the rollback did.
 * Safety checks (safety-checks.ts) are the caller's to run first.
 * @throws VfioUsageError when a device changed since the plan was made (plan again).
 * @example
 * await executeBind(await planBind(sysfs, ["0000:01:00.0"]), { sysfs, journal: fileJournal() });
 */
export async function executeBind(plan: BindPlan, options: ExecutorOptions): Promise<JournalEntry[]> {
  const { sysfs, journal } = options;
  const now = options.now ?? (() => new Date());
  const touched: JournalEntry[] = [];
  for (const step of plan.steps) {
    try {
      if (step.kind === "write" && !touched.some((e) => e.address === step.device)) {
        const planned = plan.members.find((m) => m.address === step.device);
        const state = await readBindingState(sysfs, step.device, { allowNoGroup: plan.driver !== undefined && plan.driver !== VFIO_PCI });
        if (!planned || state.driver !== planned.driver || state.override !== planned.override) {
          throw new VfioUsageError(
            `${step.device} changed since the plan was made (driver ${state.driver ?? "none"}, override ${state.override ?? "none"}); plan again`,
            "ESTALE",
          );
        }
        const entry: JournalEntry = {
          address: state.address, group: state.group, previousDriver: state.driver, previousOverride: state.override,
          boundTo: plan.driver ?? VFIO_PCI, time: now().toISOString(), sysfs: sysfs.description,
        };
        await journal.record(entry);
        touched.push(entry);
      }
      await runStep(step, options);
    } catch (error) {
      const rolledBack: string[] = [];
      const notRolledBack: { address: string; error: unknown }[] = [];
      for (const entry of [...touched].reverse()) {
        try {
          await restoreDevice(entry, options);
          rolledBack.push(entry.address);
        } catch (rollbackError) {
          notRolledBack.push({ address: entry.address, error: rollbackError });
        }
      }
      throw new BindStepError(step, rolledBack, notRolledBack, error, options.restoreCommand);
    }
  }
  return touched;
}

/** What executeRestore did. */
export interface RestoreOutcome {
  readonly restored: readonly string[];
  readonly failed: readonly { readonly address: string; readonly error: unknown }[];
}

/**
 * Puts journalled devices back, each independently: one that fails keeps its entry and does
 * not stop the others.
 */
export async function executeRestore(entries: readonly JournalEntry[], options: ExecutorOptions): Promise<RestoreOutcome> {
  const restored: string[] = [];
  const failed: { address: string; error: unknown }[] = [];
  for (const entry of entries) {
    try {
      await restoreDevice(entry, options);
      restored.push(entry.address);
    } catch (error) {
      failed.push({ address: entry.address, error });
    }
  }
  return { restored, failed };
}
