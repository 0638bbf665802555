import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../../src/emu/machine.js";
import { defaultMachineSpec } from "../../../src/emu/default-machine.js";
import { VfioPciConfig } from "../../../src/emu/vfio/pci-config.js";

function config() {
  const machine = new Machine(defaultMachineSpec());
  const fn = machine.fn("0000:00:03.0")!;
  const calls: string[] = [];
  const cfg = new VfioPciConfig(fn, { msiEnabled: () => false, intxMask: () => calls.push("mask"), intxUnmask: () => calls.push("unmask") });
  const r32 = (o: number) => { const b = cfg.read(o, 4); return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0; };
  const w = (o: number, ...bytes: number[]) => cfg.write(o, Uint8Array.from(bytes));
  return { fn, cfg, calls, r32, w };
}

test("BARs are virtual: sizing reads the mask, the real BAR keeps its address", () => {
  const { fn, r32, w } = config();
  const real = fn.config.read(0x10, 4);
  w(0x10, 0xff, 0xff, 0xff, 0xff);
  assert.equal(r32(0x10), 0xfff00000);
  assert.equal(fn.config.read(0x10, 4), real);
});

test("INTx Disable is virtual and drives vfio's INTx mask/unmask; Bus Master reaches the device", () => {
  const { fn, calls, r32, w } = config();
  w(0x04, 0x06, 0x04);
  assert.equal(r32(0x04) & 0x406, 0x406);
  assert.equal(fn.config.command & 0x400, 0);
  assert.equal(fn.config.command & 0x4, 0x4);
  w(0x04, 0x06, 0x00);
  assert.deepEqual(calls, ["mask", "unmask"]);
});

test("the MSI Enable bit cannot be set through config space while MSI is off in vfio", () => {
  const { r32, w } = config();
  const cap = r32(0x34) & 0xff;
  w(cap + 2, 0x81);
  assert.equal((r32(cap) >>> 16) & 0x1, 0);
});
