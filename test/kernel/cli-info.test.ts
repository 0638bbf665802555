// `vfio info` against Linux 6.1 in the test guest (skipped outside it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { EDU, EDU_NOT_VIABLE, groupOf, skip } from "./guest.js";

const NVME = "0000:00:06.0";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
// A whole CLI start under TCG on a loaded 2-core host took up to ~55 s (node, pci.ids over 9p):
// the limit only catches a hang.
const vfio = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 300_000 });

test("vfio info shows the edu's BAR0, config space and IRQ indexes as the kernel reports them", { skip }, () => {
  const result = vfio("info", EDU);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^${EDU.replace(/\./g, "\\.")}: group ${groupOf(EDU)}, IOMMU type1v2, flags pci`));
  assert.match(result.stdout, /0 +BAR0 +1 MiB +0x0 +read,write,mmap/);
  assert.match(result.stdout, /7 +CONFIG +256 bytes +0x70000000000 +read,write/);
  assert.match(result.stdout, /8 +VGA .*\(EINVAL\)/);
  assert.match(result.stdout, /1 +MSI +1 +eventfd,noresize/);
});

test("vfio info --json parses, and a non-viable group fails in one line naming the e1000 (exit 1)", { skip }, () => {
  const json = vfio("info", "--json", EDU);
  assert.equal(json.status, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).regions[0].size, "0x100000");
  const refused = vfio("info", EDU_NOT_VIABLE);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /VFIO_GROUP_SET_CONTAINER .*EPERM.*e1000/);
  assert.equal(refused.stderr.trim().split("\n").length, 1);
});

test("vfio info describes the NVMe controller: identity, BAR0 with its MSI-X table mappable, MSI-X vectors", { skip }, () => {
  const result = vfio("info", "--json", NVME);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    identity: { vendorId: string; deviceId: string; classCode: string };
    regions: { name: string; flagNames?: string[]; caps?: string[] }[];
    irqs: { name: string; count?: number }[];
  };
  // QEMU's NVMe (hw/nvme): 1b36:0010, class 01 08 02 (NVM Express), as sysfs says in the guest.
  assert.deepEqual(
    { vendorId: report.identity.vendorId, deviceId: report.identity.deviceId, classCode: report.identity.classCode },
    { vendorId: "1b36", deviceId: "0010", classCode: "010802" },
  );
  assert.deepEqual(report.regions[0]!.flagNames, ["read", "write", "mmap"].concat(report.regions[0]!.caps!.length > 0 ? ["caps"] : []));
  assert.ok(report.regions[0]!.caps!.includes("msix-mappable"), JSON.stringify(report.regions[0]));
  assert.ok((report.irqs[2]!.count ?? 0) > 0, JSON.stringify(report.irqs[2]));
});
