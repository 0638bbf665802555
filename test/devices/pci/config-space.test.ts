import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_STATUS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
} from "../../../src/api/constants.js";
import type { PciFunctionDescription } from "../../../src/devices/pci/config-space.js";
import { PciConfigSpace, pciType0HeaderLayout } from "../../../src/devices/pci/config-space.js";
import { EduDevice } from "../../../src/devices/edu.js";

const edu = (): PciConfigSpace => new PciConfigSpace(new EduDevice());

test("the type 0 header layout puts every register where PCI 3.0 §6.1 does", () => {
  const o = pciType0HeaderLayout.offsets;
  assert.equal(pciType0HeaderLayout.size, 64);
  assert.equal(o.command, PCI_COMMAND);
  assert.equal(o.status, PCI_STATUS);
  assert.equal(o.revision, PCI_CLASS_REVISION);
  assert.equal(o.headerType, PCI_HEADER_TYPE);
  assert.equal(o.bar0, PCI_BASE_ADDRESS_0);
  assert.equal(o.subsystemVendorId, PCI_SUBSYSTEM_VENDOR_ID);
  assert.equal(o.subsystemId, PCI_SUBSYSTEM_ID);
  assert.equal(o.capabilitiesPointer, PCI_CAPABILITY_LIST);
  assert.equal(o.interruptLine, PCI_INTERRUPT_LINE);
  assert.equal(o.interruptPin, PCI_INTERRUPT_PIN);
});

test("edu's config space reads as QEMU's edu does (lspci -x of 1234:11e8)", () => {
  const c = edu();
  assert.equal(c.size, 256);
  assert.equal(c.read(0x00, 4), 0x11e81234);
  assert.equal(c.read(PCI_COMMAND, 2), 0);
  assert.equal(c.read(PCI_STATUS, 2), 0x0010); // capability list
  assert.equal(c.read(0x08, 4), 0x00ff0010); // class 00ff00, revision 0x10
  assert.equal(c.read(PCI_HEADER_TYPE, 1), 0);
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0); // 32-bit, non-prefetchable memory
  for (let bar = 1; bar < 6; bar++) assert.equal(c.read(PCI_BASE_ADDRESS_0 + 4 * bar, 4), 0);
  assert.equal(c.read(0x2c, 4), 0x11001af4);
  assert.equal(c.read(PCI_CAPABILITY_LIST, 1), 0x40);
  assert.equal(c.read(PCI_INTERRUPT_PIN, 1), 1);
  // MSI at 0x40: id 5, end of list, 64-bit, one vector, disabled.
  assert.equal(c.read(0x40, 4), 0x00800005);
});

test("BAR0 size probing: all-ones reads back the 1 MiB mask, then an address sticks", () => {
  const c = edu();
  c.write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0xfff00000);
  assert.equal((~c.read(PCI_BASE_ADDRESS_0, 4) >>> 0) + 1, 1 << 20);
  c.write(PCI_BASE_ADDRESS_0, 4, 0xfea12345);
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0xfea00000);
  assert.equal(c.barAddress(0), 0xfea00000n);
  // Unimplemented BARs stay zero.
  c.write(PCI_BASE_ADDRESS_0 + 4, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0 + 4, 4), 0);
  assert.equal(c.barAddress(1), undefined);
});

test("a 64-bit BAR probes across two registers and decodes both halves", () => {
  const d: PciFunctionDescription = {
    identity: { vendorId: 0x1b36, deviceId: 0x10, subsystemVendorId: 0, subsystemId: 0, classCode: 0x010802, revision: 2 },
    bars: [{ size: 0x4000n, kind: "memory64", prefetchable: false }],
    msiVectors: 0,
    intxPin: 0,
  };
  const c = new PciConfigSpace(d, { size: 4096 });
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0x4);
  c.write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  c.write(PCI_BASE_ADDRESS_0 + 4, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0xffffc004);
  assert.equal(c.read(PCI_BASE_ADDRESS_0 + 4, 4), 0xffffffff);
  c.write(PCI_BASE_ADDRESS_0, 4, 0x80000000);
  c.write(PCI_BASE_ADDRESS_0 + 4, 4, 0x1);
  assert.equal(c.barAddress(0), 0x1_8000_0000n);
  // No capabilities: status bit 4 clear, pointer 0.
  assert.equal(c.read(PCI_STATUS, 2) & 0x10, 0);
  assert.equal(c.read(PCI_CAPABILITY_LIST, 1), 0);
  assert.equal(c.msiMessage(0), undefined);
});

test("Command takes only QEMU's writable bits: I/O, memory, master, SERR, INTx disable", () => {
  const c = edu();
  c.write(PCI_COMMAND, 2, 0xffff);
  assert.equal(c.read(PCI_COMMAND, 2), 0x0507);
  assert.equal(c.busMasterEnabled, true);
  assert.equal(c.intxDisabled, true);
  c.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
  assert.equal(c.memoryEnabled, true);
  assert.equal(c.busMasterEnabled, false);
  // Vendor and device id, class, header type and pin are read-only.
  c.write(0x00, 4, 0);
  c.write(0x08, 4, 0);
  c.write(PCI_INTERRUPT_PIN, 1, 3);
  assert.equal(c.read(0x00, 4), 0x11e81234);
  assert.equal(c.read(0x08, 4), 0x00ff0010);
  assert.equal(c.read(PCI_INTERRUPT_PIN, 1), 1);
  c.write(PCI_INTERRUPT_LINE, 1, 11);
  assert.equal(c.read(PCI_INTERRUPT_LINE, 1), 11);
});

test("Status: Interrupt Status follows INTx, software cannot write it, error bits are write-1-to-clear", () => {
  const c = edu();
  c.setInterruptStatus(true);
  assert.equal(c.read(PCI_STATUS, 2), 0x0018);
  assert.equal(c.intxOutput, true);
  c.write(PCI_STATUS, 2, 0xffff);
  assert.equal(c.read(PCI_STATUS, 2), 0x0018);
  c.write(PCI_COMMAND, 2, 1 << 10);
  assert.equal(c.intxOutput, false, "Interrupt Disable masks the pin, not the status bit");
  assert.equal(c.read(PCI_STATUS, 2) & 0x8, 0x8);
  c.setInterruptStatus(false);
  assert.equal(c.read(PCI_STATUS, 2), 0x0010);
});

test("MSI: software programs address and data and enables it; msiMessage() then routes vector 0", () => {
  const c = edu();
  assert.equal(c.msiMessage(0), undefined);
  c.write(0x44, 4, 0xfee00003); // the two low address bits are reserved: not writable
  c.write(0x48, 4, 0x1);
  c.write(0x4c, 2, 0x4021);
  c.write(0x42, 2, 0x0001 | (5 << 4)); // enable, ask for 32 vectors
  const s = c.msiState()!;
  assert.equal(s.enabled, true);
  assert.equal(s.vectorsCapable, 1);
  assert.equal(s.vectorsEnabled, 1, "MME is clamped to MMC");
  assert.equal(c.read(0x42, 2), 0x0081);
  assert.deepEqual(c.msiMessage(0), { address: 0x1_fee00000n, data: 0x4021, masked: false });
  assert.equal(c.msiMessage(1), undefined);
  // The capability header is read-only; the bytes after it are plain device RAM, as in QEMU.
  c.write(0x40, 2, 0xffff);
  assert.equal(c.read(0x40, 2), 0x0005);
  c.write(0x80, 4, 0xdeadbeef);
  assert.equal(c.read(0x80, 4), 0xdeadbeef);
});

test("reset() returns to the power-on image", () => {
  const c = edu();
  c.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  c.write(PCI_BASE_ADDRESS_0, 4, 0xfe000000);
  c.write(0x42, 2, 1);
  c.reset();
  assert.equal(c.read(PCI_COMMAND, 2), 0);
  assert.equal(c.barAddress(0), 0n);
  assert.equal(c.msiState()!.enabled, false);
  assert.deepEqual(c.readBytes(0, 64), edu().readBytes(0, 64));
});

test("onWrite() listeners see every write; the returned function removes them", () => {
  const c = edu();
  const seen: [number, number][] = [];
  const off = c.onWrite((offset, size) => seen.push([offset, size]));
  c.write(PCI_COMMAND, 2, 4);
  c.writeBytes(0x42, Uint8Array.of(1));
  off();
  c.write(PCI_COMMAND, 2, 0);
  assert.deepEqual(seen, [[4, 2], [0x42, 1]]);
});

test("PCIe-sized space: the extended part reads zero and ignores writes; accesses past the end throw", () => {
  const c = new PciConfigSpace(new EduDevice(), { size: 4096 });
  assert.equal(c.read(0x100, 4), 0);
  c.write(0x100, 4, 0xffffffff);
  assert.equal(c.read(0x100, 4), 0);
  assert.throws(() => c.read(0xffe, 4), RangeError);
  assert.throws(() => edu().read(0x100, 1), RangeError);
  assert.throws(() => edu().write(-1, 1, 0), RangeError);
});

test("invalid descriptions are refused", () => {
  const base = new EduDevice();
  assert.throws(() => new PciConfigSpace({ ...base, identity: base.identity, bars: base.bars, msiVectors: 1, intxPin: 5 }), RangeError);
  assert.throws(() => new PciConfigSpace({ identity: base.identity, bars: base.bars, msiVectors: 3, intxPin: 1 }), RangeError);
});

test("a type 1 header takes QEMU's bridge masks: bus numbers and windows writable, BAR2.. gone, header type 1", async () => {
  const { PCI_HEADER_TYPE: HT, PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS, PCI_MEMORY_BASE, PCI_PREF_MEMORY_BASE, PCI_IO_BASE } = await import("../../../src/api/pci-regs.js");
  const c = new PciConfigSpace(
    { identity: { vendorId: 0x1b36, deviceId: 1, subsystemVendorId: 0, subsystemId: 0, classCode: 0x060400, revision: 0 }, bars: [{ size: 0x100n, kind: "memory64", prefetchable: false }], msiVectors: 0, intxPin: 1 },
    { bridge: true, busNumbers: [0, 1, 1], multifunction: true, barAddresses: [0xfe000000n], interruptLine: 20 },
  );
  assert.equal(c.read(HT, 1), 0x81);
  assert.equal(c.headerType, 1);
  assert.deepEqual([c.read(PCI_PRIMARY_BUS, 1), c.read(PCI_SECONDARY_BUS, 1), c.read(PCI_SUBORDINATE_BUS, 1)], [0, 1, 1]);
  assert.equal(c.barAddress(0), 0xfe000000n, "the firmware-assigned address");
  c.write(PCI_SECONDARY_BUS, 1, 5);
  assert.equal(c.read(PCI_SECONDARY_BUS, 1), 5);
  c.write(PCI_MEMORY_BASE, 2, 0xffff);
  assert.equal(c.read(PCI_MEMORY_BASE, 2), 0xfff0);
  c.write(PCI_PREF_MEMORY_BASE, 2, 0xffff);
  assert.equal(c.read(PCI_PREF_MEMORY_BASE, 2), 0xfff1, "64-bit prefetchable window type is read-only");
  c.write(PCI_IO_BASE, 1, 0xff);
  assert.equal(c.read(PCI_IO_BASE, 1), 0xf0);
  c.write(0x50, 4, 0xffffffff);
  assert.equal(c.read(0x50, 4), 0, "a bridge's device-specific bytes stay read-only");
});

test("a PCIe root port with ACS: Express capability with its port type, AER then ACS in extended space", async () => {
  const r = await import("../../../src/api/pci-regs.js");
  const c = new PciConfigSpace(
    { identity: { vendorId: 0x1b36, deviceId: 0xc, subsystemVendorId: 0, subsystemId: 0, classCode: 0x060400, revision: 0 }, bars: [], msiVectors: 0, intxPin: 0 },
    { bridge: true, pcieType: r.PCI_EXP_TYPE_ROOT_PORT, acs: true },
  );
  assert.equal(c.size, 4096);
  assert.equal(c.pcieCap, 0x40);
  assert.equal(c.read(0x40, 1), r.PCI_CAP_ID_EXP);
  assert.equal((c.read(0x40 + r.PCI_EXP_FLAGS, 2) & r.PCI_EXP_FLAGS_TYPE) >> 4, r.PCI_EXP_TYPE_ROOT_PORT);
  assert.equal(c.read(0x100, 4) & 0xffff, r.PCI_EXT_CAP_ID_ERR);
  assert.equal(c.read(0x100, 4) >>> 20, c.acsCap);
  assert.equal(c.read(c.acsCap, 2), r.PCI_EXT_CAP_ID_ACS);
});
