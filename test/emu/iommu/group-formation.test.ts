import { test } from "node:test";
import assert from "node:assert/strict";
import { InertModel } from "../../../src/emu/pci/inert-model.js";
import { buildTopology, type FunctionSpec } from "../../../src/emu/pci/topology.js";
import { formIommuGroups } from "../../../src/emu/iommu/group-formation.js";

const model = () => new InertModel({
  name: "dev",
  identity: { vendorId: 0x1234, deviceId: 0x1, subsystemVendorId: 0, subsystemId: 0, classCode: 0xff00, revision: 0 },
  bars: [{ size: 0x1000n, kind: "memory32", prefetchable: false }],
});
const fn = (address: string, kind: FunctionSpec["kind"], extra: Partial<FunctionSpec> = {}): FunctionSpec => ({ address, kind, model, ...extra });

/** Group members by address, in group order. */
function groups(specs: FunctionSpec[]): string[][] {
  return formIommuGroups(buildTopology(specs)).map((g) => g.map((f) => f.address.slice(5)));
}

test("every function on the root bus of its own slot gets its own group", () => {
  assert.deepEqual(groups([fn("00:00.0", "host-bridge"), fn("00:02.0", "endpoint"), fn("00:03.0", "endpoint", { express: true })]), [
    ["00:00.0"], ["00:02.0"], ["00:03.0"],
  ]);
});

test("a conventional PCI bridge owns its devices' requester IDs: bridge and devices share one group", () => {
  assert.deepEqual(groups([
    fn("00:04.0", "pci-bridge", { secondaryBus: 1 }),
    fn("01:01.0", "endpoint"),
    fn("01:02.0", "endpoint"),
    fn("00:05.0", "endpoint"),
  ]), [["00:04.0", "01:01.0", "01:02.0"], ["00:05.0"]]);
});

test("a root port with ACS isolates the device behind it; without ACS the device joins the port's group", () => {
  assert.deepEqual(groups([fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }), fn("02:00.0", "endpoint", { express: true })]), [
    ["00:05.0"], ["02:00.0"],
  ]);
  assert.deepEqual(groups([fn("00:05.0", "pcie-root-port", { secondaryBus: 2 }), fn("02:00.0", "endpoint", { express: true })]), [
    ["00:05.0", "02:00.0"],
  ]);
});

test("functions of a multi-function slot share a group unless each has ACS", () => {
  assert.deepEqual(groups([fn("00:1f.0", "endpoint"), fn("00:1f.2", "endpoint"), fn("00:1f.3", "endpoint")]), [["00:1f.0", "00:1f.2", "00:1f.3"]]);
  assert.deepEqual(groups([
    fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }),
    fn("02:00.0", "endpoint", { express: true, acs: true }),
    fn("02:00.1", "endpoint", { express: true, acs: true }),
  ]), [["00:05.0"], ["02:00.0"], ["02:00.1"]]);
  assert.deepEqual(groups([
    fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }),
    fn("02:00.0", "endpoint", { express: true }),
    fn("02:00.1", "endpoint", { express: true }),
  ]), [["00:05.0"], ["02:00.0", "02:00.1"]]);
});

test("a PCIe-to-PCI bridge behind an ACS root port: the bridge and everything behind it are one group", () => {
  assert.deepEqual(groups([
    fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }),
    fn("02:00.0", "pci-bridge", { express: true, secondaryBus: 3 }),
    fn("03:01.0", "endpoint"),
    fn("03:02.0", "endpoint"),
  ]), [["00:05.0"], ["02:00.0", "03:01.0", "03:02.0"]]);
});

test("a switch: downstream ports with ACS give each device its own group; without ACS a device joins its port's group", () => {
  const switchWith = (acs: boolean) => [
    fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }),
    fn("02:00.0", "pcie-upstream-port", { secondaryBus: 3 }),
    fn("03:00.0", "pcie-downstream-port", { secondaryBus: 4, acs }),
    fn("03:01.0", "pcie-downstream-port", { secondaryBus: 5, acs }),
    fn("04:00.0", "endpoint", { express: true }),
    fn("05:00.0", "endpoint", { express: true }),
  ];
  assert.deepEqual(groups(switchWith(true)), [["00:05.0"], ["02:00.0"], ["03:00.0"], ["03:01.0"], ["04:00.0"], ["05:00.0"]]);
  // pci_device_group(): 04:00.0 climbs to its downstream port (no ACS on the path there) and joins
  // it; the ports themselves are isolated by the upstream port (single-function: ACS not needed).
  assert.deepEqual(groups(switchWith(false)), [["00:05.0"], ["02:00.0"], ["03:00.0", "04:00.0"], ["03:01.0", "05:00.0"]]);
});

test("a quirked DMA alias (dma_alias_mask) puts the aliased functions in one group", () => {
  assert.deepEqual(groups([fn("00:02.0", "endpoint", { dmaAliasDevfns: [0x18] }), fn("00:03.0", "endpoint"), fn("00:04.0", "endpoint")]), [
    ["00:02.0", "00:03.0"], ["00:04.0"],
  ]);
});

test("groups are numbered in the order Linux adds devices: bus 0 first, then each bridge's bus", () => {
  assert.deepEqual(groups([
    fn("00:05.0", "pcie-root-port", { secondaryBus: 2, acs: true }),
    fn("02:00.0", "endpoint", { express: true }),
    fn("00:1f.0", "endpoint"),
  ]), [["00:05.0"], ["00:1f.0"], ["02:00.0"]]);
});
