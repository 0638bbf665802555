/**
 * The CC/CSTS handshakes (NVMe Base Specification 2.0, §3.5.1 "Memory-based Controller
 * Initialization", §3.6 "Controller Shutdown", §3.7.2 "Controller Reset"): disable and wait for
 * CSTS.RDY to clear, enable and wait for it to set, each within CAP.TO; a normal shutdown
 * (CC.SHN = 01b) waits for CSTS.SHST = 10b. Every wait watches CSTS.CFS and an all-ones read
 * (the controller fell off the bus) and says which it saw.
 */
import {
  CC_AMS_RR, CC_CSS_NVM, CC_EN, CC_IOCQES, CC_IOSQES, CC_MPS_SHIFT, CC_SHN_MASK, CC_SHN_NORMAL,
  CSTS_ALL_ONES, CSTS_CFS, CSTS_RDY, CSTS_SHST_COMPLETE, CSTS_SHST_MASK, NVME_REG,
} from "./registers.js";
import type { ControllerRegisters } from "./register-port.js";
import { NvmeControllerError } from "./status.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Reads CSTS and fails if the controller is gone or fatal; returns the register otherwise. */
export async function readStatus(bar: ControllerRegisters, name: string): Promise<number> {
  const csts = (await bar.read32(NVME_REG.CSTS)) >>> 0;
  if (csts === CSTS_ALL_ONES) throw new NvmeControllerError(`${name}: CSTS reads all ones: the controller is not responding`, "ENODEV", false);
  if ((csts & CSTS_CFS) !== 0) throw new NvmeControllerError(`${name}: Controller Fatal Status (CSTS.CFS) is set; the controller needs a reset`, "EIO", true);
  return csts;
}

/**
 * Polls CSTS until `done(csts)`, for at most `timeoutMs`: first on the next turns of the event
 * loop (an emulated controller answers on its next turn), then every millisecond.
 */
export async function waitForStatus(bar: ControllerRegisters, name: string, what: string, timeoutMs: number, done: (csts: number) => boolean, checkFatal = true): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let polls = 0; ; polls++) {
    const csts = checkFatal ? await readStatus(bar, name) : (await bar.read32(NVME_REG.CSTS)) >>> 0;
    if (done(csts)) return;
    if (performance.now() > deadline) {
      throw new NvmeControllerError(`${name}: ${what} did not happen within ${timeoutMs} ms (CSTS 0x${csts.toString(16)})`, "ETIMEDOUT", false);
    }
    await (polls < 16 ? yieldToLoop() : sleep(1));
  }
}

/**
 * Controller reset by CC.EN 1 → 0 (§3.7.2): then CSTS.RDY goes to 0. Also waits where EN is
 * already 0 but RDY is still 1 (§3.5.1 step 1: the host waits for RDY to clear before
 * enabling). A fatal controller is reset too: this is how it recovers.
 */
export async function disableController(bar: ControllerRegisters, name: string, timeoutMs: number): Promise<void> {
  const cc = (await bar.read32(NVME_REG.CC)) >>> 0;
  if ((cc & CC_EN) !== 0) bar.write32(NVME_REG.CC, cc & ~CC_EN & ~CC_SHN_MASK);
  await waitForStatus(bar, name, "CSTS.RDY clearing after CC.EN = 0", timeoutMs, (csts) => (csts & CSTS_RDY) === 0, false);
}

/**
 * Enables the controller (§3.5.1 steps 5–6): CC with the NVM command set, memory page size
 * `pageSize`, round robin, 64-byte SQEs and 16-byte CQEs, EN = 1; then waits for CSTS.RDY.
 */
export async function enableController(bar: ControllerRegisters, name: string, pageSize: number, timeoutMs: number): Promise<void> {
  const mps = Math.log2(pageSize) - 12;
  bar.write32(NVME_REG.CC, CC_CSS_NVM | (mps << CC_MPS_SHIFT) | CC_AMS_RR | CC_IOSQES | CC_IOCQES | CC_EN);
  await waitForStatus(bar, name, "CSTS.RDY setting after CC.EN = 1", timeoutMs, (csts) => (csts & CSTS_RDY) !== 0);
}

/** Normal shutdown (§3.6.1): CC.SHN = 01b, then CSTS.SHST = 10b. */
export async function shutdownController(bar: ControllerRegisters, name: string, timeoutMs: number): Promise<void> {
  const cc = (await bar.read32(NVME_REG.CC)) >>> 0;
  bar.write32(NVME_REG.CC, (cc & ~CC_SHN_MASK) | CC_SHN_NORMAL);
  await waitForStatus(bar, name, "shutdown (CSTS.SHST = 10b after CC.SHN = 01b)", timeoutMs, (csts) => (csts & CSTS_SHST_MASK) === CSTS_SHST_COMPLETE);
}

/** Programs the admin queue (§3.5.1 step 4): AQA sizes (zero-based) and the ring bases, low dword first. */
export function programAdminQueue(bar: ControllerRegisters, entries: number, sqIova: bigint, cqIova: bigint): void {
  bar.write32(NVME_REG.AQA, ((entries - 1) << 16) | (entries - 1));
  bar.write32(NVME_REG.ASQ, Number(sqIova & 0xffffffffn));
  bar.write32(NVME_REG.ASQ + 4, Number(sqIova >> 32n));
  bar.write32(NVME_REG.ACQ, Number(cqIova & 0xffffffffn));
  bar.write32(NVME_REG.ACQ + 4, Number(cqIova >> 32n));
}
