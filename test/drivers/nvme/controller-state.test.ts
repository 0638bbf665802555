import { test } from "node:test";
import assert from "node:assert/strict";
import { disableController, enableController, shutdownController } from "../../../src/drivers/nvme/controller-state.js";
import { NVME_REG } from "../../../src/drivers/nvme/registers.js";
import { NvmeControllerError } from "../../../src/drivers/nvme/status.js";
import { FakeBar } from "./fake-bar.js";

test("enable writes CC (NVM, 4 KiB pages, 64/16-byte entries, EN) and waits for CSTS.RDY", async () => {
  const bar = new FakeBar();
  bar.onWrite = (offset, value) => {
    if (offset === NVME_REG.CC) setImmediate(() => bar.registers.set(NVME_REG.CSTS, value & 1));
  };
  await enableController(bar, "t", 4096, 1000);
  assert.equal(bar.read32(NVME_REG.CC), 0x00460001);
  await disableController(bar, "t", 1000);
  assert.equal(bar.read32(NVME_REG.CC) & 1, 0);
});

test("CSTS.CFS is reported as a fatal EIO, an all-ones CSTS as ENODEV, a RDY that never comes as ETIMEDOUT", async () => {
  const bar = new FakeBar();
  bar.registers.set(NVME_REG.CSTS, 0x2);
  await assert.rejects(enableController(bar, "t", 4096, 1000), (e: unknown) => e instanceof NvmeControllerError && e.code === "EIO" && e.fatal);
  bar.registers.set(NVME_REG.CSTS, 0xffffffff);
  await assert.rejects(shutdownController(bar, "t", 1000), (e: unknown) => e instanceof NvmeControllerError && e.code === "ENODEV");
  bar.registers.set(NVME_REG.CSTS, 0);
  await assert.rejects(enableController(bar, "t", 4096, 30), (e: unknown) => e instanceof NvmeControllerError && e.code === "ETIMEDOUT" && !e.fatal);
});

test("a fatal controller can still be disabled (that is how it recovers)", async () => {
  const bar = new FakeBar();
  bar.registers.set(NVME_REG.CC, 1);
  bar.registers.set(NVME_REG.CSTS, 0x3);
  bar.onWrite = (offset, value) => {
    if (offset === NVME_REG.CC && (value & 1) === 0) bar.registers.set(NVME_REG.CSTS, 0);
  };
  await disableController(bar, "t", 1000);
});
