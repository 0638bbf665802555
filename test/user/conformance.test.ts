/**
 * The conformance scenarios that concern a device (device.*, irq.*, edu.*) run unchanged
 * through the vfio-user client against the vfio-user server hosting edu. Their outcomes are
 * compared with Linux 6.1's (the golden file); where vfio-user differs from vfio-pci by design,
 * the difference is listed below with its reason, and everything else must match.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runScenario, type Json } from "../conformance/scenario.js";
import { scenarios } from "../conformance/scenarios.js";
import { loadGolden } from "../conformance/suite.js";
import { prepare } from "../conformance/fixture.js";
import { VfioUserSystem } from "./vfio-user-system.js";

const golden = await loadGolden();
const deviceScenarios = scenarios.filter((s) => /^(device|irq|edu)\./.test(s.id));

const ABSENT = "(absent)";
const RESET = "vfio-user's DEVICE_RESET resets the model (libvfio-user answers flags 0x3 for every device); vfio-pci has no reset method for the root-bus edu";
const MMIO = "edu's BAR0 is registers of a model: the server cannot offer it for mmap (only memory BARs are offered with an fd)";
const RAW_CONFIG = "the server presents the device's own config space; vfio-pci enables the device on open and virtualises MSI, as a vfio-user client (QEMU) does on its side";
const LIBVFIO_USER = "answered as libvfio-user answers it, so clients written for the reference (its sample client fails otherwise) work";
/** scenario id → key → [what vfio-user answers, why it differs from vfio-pci]. Everything else must match Linux 6.1. */
const byDesign: Record<string, Record<string, readonly [Json, string]>> = {
  "device.info": { root: [{ flags: 3, numRegions: 9, numIrqs: 5 }, RESET] },
  "device.region-info": {
    "region0.info": [{ flags: 3, size: "0x100000", offset: "0x0", caps: 0 }, MMIO],
    region8: ["ok", LIBVFIO_USER],
    "region8.info": [{ flags: 0, size: "0x0", offset: "0x80000000000", caps: 0 }, LIBVFIO_USER],
  },
  "device.config-header": { command_mem_master_intxdis: [0, RAW_CONFIG] },
  "device.config-bounds": { at_end: ["EINVAL", LIBVFIO_USER], straddle: ["EINVAL", LIBVFIO_USER], write_past: ["EINVAL", LIBVFIO_USER] },
  "device.bar-bounds": {
    crossing_end: ["EINVAL", "REGION_READ has no short reads: libvfio-user refuses an access crossing the end with EINVAL"],
    crossing_length: [null, "REGION_READ has no short reads"],
  },
  "device.bar-memory-disabled": { disabled: ["ok", "libvfio-user does not gate region access on Memory Space Enable, and its sample client reads BARs without setting it"] },
  "device.irq-info": { irq3: ["ok", LIBVFIO_USER], "irq3.info": [{ flags: 1, count: 0 }, LIBVFIO_USER] },
  "device.reset": { root: ["ok", RESET] },
  "device.mmap": { bar0: ["EINVAL", MMIO], bar0_size: [ABSENT, MMIO], bar0_id: [ABSENT, MMIO], bar0_page: ["EINVAL", MMIO] },
  "irq.msi-flags-in-config": { write_enable: [129, RAW_CONFIG], after_enable: [129, RAW_CONFIG] },
  "edu.identification": { mmap_id: [ABSENT, MMIO], mmap_liveness: [ABSENT, MMIO], error: ["EINVAL", MMIO] },
  "edu.reset-clears-state": {
    factorial_after: [0, "the edu model's reset() is a function-level reset (devices/edu.ts); QEMU 7.2's edu has no reset handler"],
    liveness_after: [0, "the edu model's reset() is a function-level reset (devices/edu.ts); QEMU 7.2's edu has no reset handler"],
  },
};

for (const scenario of deviceScenarios) {
  const expected = golden?.scenarios[scenario.id];
  // The vfio-user test bed serves the three edu devices; devices it does not serve are skipped.
  const skip = !expected ? "not in the golden file" : scenario.id.startsWith("device.nvme") ? "no NVMe model is served over vfio-user (the test bed serves edu)" : false;
  test(`conformance over vfio-user ${scenario.id}: ${scenario.title}`, { skip }, async () => {
    const system = await VfioUserSystem.create();
    try {
      await prepare(system);
      const actual = await runScenario(scenario, system, { settleMs: 20 });
      const allowed = byDesign[scenario.id] ?? {};
      const diffs: string[] = [];
      for (const key of new Set([...Object.keys(expected!), ...Object.keys(actual)])) {
        const a = key in actual ? JSON.stringify(actual[key]) : JSON.stringify(ABSENT);
        if (a === (key in expected! ? JSON.stringify(expected![key]) : JSON.stringify(ABSENT))) continue;
        if (key in allowed && a === JSON.stringify(allowed[key]![0])) continue;
        diffs.push(`${key}: Linux ${JSON.stringify(expected![key])}, vfio-user ${a}`);
      }
      assert.deepEqual(diffs, []);
    } finally {
      await system.close();
    }
  });
}
