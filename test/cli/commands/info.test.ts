import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../../src/cli/run.js";
import { infoCommand } from "../../../src/cli/commands/info.js";
import * as ioctl from "../../../src/abi/ioctl-number.js";
import { encodeRegionCap } from "../../../src/abi/cap-chain.js";
import { writeInfoReply } from "../../../src/abi/info-reply.js";
import { deviceInfoLayout } from "../../../src/abi/vfio/device-info.js";
import { irqInfoLayout } from "../../../src/abi/vfio/irq-info.js";
import { regionInfoLayout } from "../../../src/abi/vfio/region-info.js";
import { groupStatusLayout } from "../../../src/abi/vfio/group-status.js";
import { KernelSystem } from "../../../src/kernel/system.js";
import { ScriptedLibc, fixtureSysfs, lockedMemory } from "../../kernel/scripted-libc.js";

const DEV = "0000:00:06.0";

/** A scripted NVMe-like device: BAR0 with MSIX_MAPPABLE, config, VGA absent, INTx/MSI/MSI-X. */
function system(): KernelSystem {
  const libc = new ScriptedLibc();
  libc.handlers.set(ioctl.VFIO_CHECK_EXTENSION, () => 1);
  libc.handlers.set(ioctl.VFIO_SET_IOMMU, () => 0);
  libc.handlers.set(ioctl.VFIO_GROUP_SET_CONTAINER, () => 0);
  libc.handlers.set(ioctl.VFIO_GROUP_GET_STATUS, (_fd, arg) => (groupStatusLayout.encode({ argsz: 8, flags: 3 }, arg as Uint8Array), 0));
  libc.handlers.set(ioctl.VFIO_GROUP_GET_DEVICE_FD, () => 300);
  libc.handlers.set(ioctl.VFIO_DEVICE_GET_INFO, (_fd, arg) => (deviceInfoLayout.encode({ argsz: 20, flags: 3, numRegions: 9, numIrqs: 3 }, arg as Uint8Array), 0));
  libc.handlers.set(ioctl.VFIO_DEVICE_GET_REGION_INFO, (_fd, arg) => {
    const buffer = arg as Uint8Array;
    const { index } = regionInfoLayout.decode(buffer);
    if (index === 8) return ScriptedLibc.errno("EINVAL");
    const info = index === 0 ? { flags: 7, size: 0x4000n } : index === 7 ? { flags: 3, size: 0x1000n } : { flags: 0, size: 0n };
    writeInfoReply(regionInfoLayout, { index, ...info, offset: BigInt(index) << 40n },
      index === 0 ? [encodeRegionCap({ id: 3, kind: "msix-mappable", version: 1 })] : [], buffer, { capsFlag: 8 });
    return 0;
  });
  libc.handlers.set(ioctl.VFIO_DEVICE_GET_IRQ_INFO, (_fd, arg) => {
    const buffer = arg as Uint8Array;
    const { index } = irqInfoLayout.decode(buffer);
    irqInfoLayout.encode({ argsz: 16, index, flags: index === 0 ? 7 : 9, count: [1, 0, 65][index]! }, buffer);
    return 0;
  });
  const sysfs = fixtureSysfs({ [`bus/pci/devices/${DEV}/iommu_group`]: { link: "../../../kernel/iommu_groups/4" } });
  return new KernelSystem({ libc, sysfs, lockedMemory: lockedMemory(0n, 0n, true) });
}

function io() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: {} },
  };
}

test("vfio info prints the device, every region with its caps, and every IRQ index", async () => {
  const { out, io: cio } = io();
  assert.equal(await runCli(["info", DEV], cio, [infoCommand(system)]), 0);
  assert.match(out.stdout, /^0000:00:06\.0: group 4, IOMMU type1v2, flags reset pci \(0x3\)/);
  assert.match(out.stdout, /0 +BAR0 +16 KiB +0x0 +read,write,mmap,caps +msix-mappable/);
  assert.match(out.stdout, /7 +CONFIG +4 KiB +0x70000000000 +read,write +-/);
  assert.match(out.stdout, /8 +VGA +- +- +\(EINVAL\)/);
  assert.match(out.stdout, /2 +MSI-X +65 +eventfd,noresize/);
  assert.match(out.stdout, /0 +INTx +1 +eventfd,maskable,automasked/);
});

test("vfio info --json gives the same report as data, 64-bit values as hex strings", async () => {
  const { out, io: cio } = io();
  assert.equal(await runCli(["info", "--json", DEV], cio, [infoCommand(system)]), 0);
  const report = JSON.parse(out.stdout);
  assert.equal(report.group, 4);
  assert.equal(report.regions.length, 9);
  assert.deepEqual(report.regions[0], { index: 0, name: "BAR0", size: "0x4000", offset: "0x0", flags: 15, flagNames: ["read", "write", "mmap", "caps"], caps: ["msix-mappable"] });
  assert.deepEqual(report.regions[8], { index: 8, name: "VGA", error: "EINVAL" });
  assert.deepEqual(report.irqs.map((i: { count: number }) => i.count), [1, 0, 65]);
});

test("vfio info refuses a malformed address or extra arguments with exit status 2", async () => {
  // 00:20.0: device numbers stop at 0x1f (PCI Local Bus Spec 3.0 §3.2.2.3.5: 5 device bits).
  for (const argv of [["info"], ["info", "00:20.0"], ["info", DEV, DEV], ["info", "--bogus", DEV], ["info", "--group", "x", DEV], ["info", "--no-fds", DEV]]) {
    const { out, io: cio } = io();
    assert.equal(await runCli(argv, cio, [infoCommand(system)]), 2, argv.join(" "));
    assert.equal(out.stderr.split("\n").filter(Boolean).length, 1);
  }
});

test("vfio info takes the short address form that check, bind and passthrough take", async () => {
  const { out, io: cio } = io();
  assert.equal(await runCli(["info", "00:06.0"], cio, [infoCommand(system)]), 0, out.stderr);
  assert.match(out.stdout, /^0000:00:06\.0: group 4/);
});
