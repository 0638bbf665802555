// Smoke test of the QEMU test guest (scripts/guest/run, scripts/guest/README.md): the real kernel's VFIO is
// there and /init bound the test devices as documented. It reads sysfs only; the VFIO tests
// proper live next to it. Outside the guest (no /dev/vfio/vfio) every test is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { basename } from "node:path";

const inGuest = existsSync("/dev/vfio/vfio");
const skip = inGuest ? false : "no /dev/vfio/vfio: not inside the test guest (npm run test:kernel)";
const PCI = "/sys/bus/pci/devices";

/** The driver a PCI function is bound to, or undefined when it has none. */
function driverOf(addr: string): string | undefined {
  try {
    return basename(readlinkSync(`${PCI}/${addr}/driver`));
  } catch {
    return undefined;
  }
}

/** The IOMMU group number of a PCI function (its iommu_group link names it). */
function groupOf(addr: string): string {
  return basename(readlinkSync(`${PCI}/${addr}/iommu_group`));
}

/** The functions sysfs lists in an IOMMU group, sorted. */
function groupMembers(group: string): string[] {
  return readdirSync(`/sys/kernel/iommu_groups/${group}/devices`).sort();
}

function idOf(addr: string): string {
  const read = (f: string) => readFileSync(`${PCI}/${addr}/${f}`, "utf8").trim().replace(/^0x/, "");
  return `${read("vendor")}:${read("device")}`;
}

test("the VFIO container device /dev/vfio/vfio is a character device", { skip }, () => {
  assert.ok(statSync("/dev/vfio/vfio").isCharacterDevice());
});

test("the three edu devices sit where scripts/guest/README.md says, bound to vfio-pci, each with /dev/vfio/<group>", { skip }, () => {
  const edus = readdirSync(PCI).filter((a) => idOf(a) === "1234:11e8").sort();
  assert.deepEqual(edus, ["0000:00:03.0", "0000:01:01.0", "0000:02:00.0"]);
  for (const addr of edus) {
    assert.equal(driverOf(addr), "vfio-pci", addr);
    assert.ok(statSync(`/dev/vfio/${groupOf(addr)}`).isCharacterDevice(), addr);
  }
});

test("the edu on the root bus and the edu behind the PCIe root port have groups of their own", { skip }, () => {
  assert.deepEqual(groupMembers(groupOf("0000:00:03.0")), ["0000:00:03.0"]);
  assert.deepEqual(groupMembers(groupOf("0000:02:00.0")), ["0000:02:00.0"]);
  assert.notEqual(groupOf("0000:00:05.0"), groupOf("0000:02:00.0"));
});

test("the conventional bridge, its edu and its e1000 share one group; the e1000 keeps its driver", { skip }, () => {
  const group = groupOf("0000:01:01.0");
  assert.deepEqual(groupMembers(group), ["0000:00:04.0", "0000:01:01.0", "0000:01:02.0"]);
  assert.equal(idOf("0000:01:02.0"), "8086:100e");
  assert.equal(driverOf("0000:01:02.0"), "e1000");
});

test("the NVMe controller has its own group and is bound to vfio-pci", { skip }, () => {
  assert.equal(idOf("0000:00:06.0"), "1b36:0010");
  assert.deepEqual(groupMembers(groupOf("0000:00:06.0")), ["0000:00:06.0"]);
  assert.equal(driverOf("0000:00:06.0"), "vfio-pci");
});

test("the ICH9 LPC, SATA and SMBus functions form one group", { skip }, () => {
  assert.deepEqual(groupMembers(groupOf("0000:00:1f.0")), ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"]);
});
