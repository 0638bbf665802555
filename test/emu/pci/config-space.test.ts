/**
 * The emulated machine's physical config space answers as QEMU's (hw/pci/pci.c pci_init_wmask,
 * pci_init_w1cmask) and as devices/pci/config-space.ts does for the same model: measured on
 * Linux 6.1 with QEMU's real edu, `setpci COMMAND=ffff` reads back 0x0507.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultMachineSpec } from "../../../src/emu/default-machine.js";
import { EmulatedSystem } from "../../../src/emu/system.js";
import { PciConfigSpace } from "../../../src/devices/pci/config-space.js";
import { PCI_COMMAND, PCI_INTERRUPT_LINE, PCI_STATUS, PCI_STATUS_CAP_LIST } from "../../../src/api/constants.js";
import { PCI_CACHE_LINE_SIZE, PCI_LATENCY_TIMER, PCI_STATUS_INTERRUPT, PCI_STATUS_SIG_TARGET_ABORT } from "../../../src/api/pci-regs.js";

const EDU = "0000:00:03.0";

function emulatedEdu(): PciConfigSpace {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const fn = system.machine.fn(EDU);
  assert.ok(fn, "the default machine has edu at 00:03.0");
  return fn.config;
}

test("Command takes only QEMU's writable bits: 0xffff reads back 0x0507 (I/O, memory, master, SERR#, INTx disable)", () => {
  const config = emulatedEdu();
  config.write(PCI_COMMAND, 2, 0xffff);
  assert.equal(config.read(PCI_COMMAND, 2), 0x0507);
  config.write(PCI_COMMAND, 2, 0);
  assert.equal(config.read(PCI_COMMAND, 2), 0);
});

test("Cache Line Size and Interrupt Line are read-write; Latency Timer is read-only on a type 0 function", () => {
  const config = emulatedEdu();
  config.write(PCI_CACHE_LINE_SIZE, 1, 0x10);
  assert.equal(config.read(PCI_CACHE_LINE_SIZE, 1), 0x10);
  config.write(PCI_INTERRUPT_LINE, 1, 0x0b);
  assert.equal(config.read(PCI_INTERRUPT_LINE, 1), 0x0b);
  config.write(PCI_LATENCY_TIMER, 1, 0xff);
  assert.equal(config.read(PCI_LATENCY_TIMER, 1), 0);
});

test("Status error bits are write-1-to-clear; Capabilities List and Interrupt Status are read-only", () => {
  const config = emulatedEdu();
  const before = config.read(PCI_STATUS, 2);
  assert.equal(before & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
  // Writing ones does not set anything: error bits are only cleared, the rest is read-only.
  config.write(PCI_STATUS, 2, 0xffff);
  assert.equal(config.read(PCI_STATUS, 2), before);
  config.setInterruptStatus(true);
  config.write(PCI_STATUS, 2, 0xffff);
  assert.equal(config.read(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
  // An error bit the device set (Signaled Target Abort) is cleared by writing 1, kept by writing 0.
  config.setStatusBits(PCI_STATUS_SIG_TARGET_ABORT);
  config.write(PCI_STATUS, 2, 0);
  assert.equal(config.read(PCI_STATUS, 2) & PCI_STATUS_SIG_TARGET_ABORT, PCI_STATUS_SIG_TARGET_ABORT);
  config.write(PCI_STATUS, 2, PCI_STATUS_SIG_TARGET_ABORT);
  assert.equal(config.read(PCI_STATUS, 2) & PCI_STATUS_SIG_TARGET_ABORT, 0);
});

test("the emulated machine's edu and the vfio-user edu (devices/pci) answer the same header writes alike", () => {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const fn = system.machine.fn(EDU)!;
  const emu = fn.config;
  const dev = new PciConfigSpace(fn.model);
  for (const [offset, size, value] of [
    [PCI_COMMAND, 2, 0xffff], [PCI_STATUS, 2, 0xffff], [PCI_CACHE_LINE_SIZE, 1, 0xff], [PCI_LATENCY_TIMER, 1, 0xff],
    [PCI_INTERRUPT_LINE, 1, 0x55], [0x3d, 1, 0xff], [0x08, 4, 0xffffffff], [0x00, 4, 0xffffffff],
  ] as const) {
    emu.write(offset, size, value);
    dev.write(offset, size, value);
    assert.equal(emu.read(offset, size), dev.read(offset, size), `offset 0x${offset.toString(16)}`);
  }
});

test("MSI Multiple Message Enable is clamped to Multiple Message Capable, as QEMU's msi_write_config does", () => {
  const config = emulatedEdu();
  const msi = config.msiCap;
  assert.notEqual(msi, 0);
  // edu asks for one vector (MMC 0): writing MME 7 with Enable leaves MME 0.
  config.write(msi + 2, 2, 0x0071);
  assert.equal(config.read(msi + 2, 2) & 0x0071, 0x0001);
});

test("every byte of the edu's config space reads and takes writes as devices/pci serves it (firmware-assigned BAR0 and Interrupt Line aside)", () => {
  const system = new EmulatedSystem(defaultMachineSpec({ guestInit: true }));
  const fn = system.machine.fn(EDU)!;
  const emu = fn.config;
  const dev = new PciConfigSpace(fn.model);
  const firmware = new Set([0x10, 0x11, 0x12, 0x13, PCI_INTERRUPT_LINE]);
  for (let offset = 0; offset < 256; offset++) {
    if (firmware.has(offset) || (offset >= 0x10 && offset < 0x28)) continue;
    assert.equal(emu.read(offset, 1), dev.read(offset, 1), `read at 0x${offset.toString(16)}`);
    emu.write(offset, 1, 0xff);
    dev.write(offset, 1, 0xff);
    assert.equal(emu.read(offset, 1), dev.read(offset, 1), `after writing 0xff at 0x${offset.toString(16)}`);
  }
});
