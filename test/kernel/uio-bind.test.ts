/**
 * `vfio bind --driver uio_pci_generic --unsafe-no-iommu` then `vfio restore` on the test
 * guest's real sysfs (iommu-pt boot): the same plan, journal and restore as vfio-pci, moving only
 * the named device; /dev/uioN appears and goes; the warning line is printed once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readlinkSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { bindCommand } from "../../src/cli/commands/bind.js";
import { restoreCommand } from "../../src/cli/commands/restore.js";
import type { CommandIo } from "../../src/cli/command.js";
import { EDU, inGuest } from "./guest.js";

const skip: string | false = !inGuest
  ? "not inside the test guest (npm run test:kernel)"
  : process.env["VFIO_GUEST_VARIANT"] !== "iommu-pt" ? "runs in the guest's iommu-pt boot with the other UIO tests" : false;

const driverOf = (address: string): string | null => {
  try {
    return basename(readlinkSync(`/sys/bus/pci/devices/${address}/driver`));
  } catch {
    return null;
  }
};

function capture(): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { stdout: { write: (t: string) => ((out += t), true) }, stderr: { write: (t: string) => ((err += t), true) }, env: {}, out: () => out, err: () => err } as CommandIo & { out: () => string; err: () => string };
}

test("vfio bind --driver uio_pci_generic round-trips with vfio restore on real Linux", { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-uio-bind-"));
  const journal = join(dir, "journal.json");
  const commands = [bindCommand(), restoreCommand()];
  t.after(async () => {
    if (driverOf(EDU) !== "vfio-pci") await runCli(["restore", "--journal", journal], capture(), commands);
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(driverOf(EDU), "vfio-pci");
  const others = readdirSync("/sys/bus/pci/devices").filter((d) => d !== EDU).map((d) => [d, driverOf(d)]);

  const refused = capture();
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic", "--journal", journal], refused, commands), 2);
  assert.equal(driverOf(EDU), "vfio-pci");

  const io = capture();
  assert.equal(await runCli(["bind", EDU, "--driver", "uio_pci_generic", "--unsafe-no-iommu", "--journal", journal], io, commands), 0, io.err());
  assert.equal(io.err().split("\n").filter((l) => /anywhere in memory/.test(l)).length, 1);
  assert.equal(driverOf(EDU), "uio_pci_generic");
  const uio = readdirSync(`/sys/bus/pci/devices/${EDU}/uio`);
  assert.equal(uio.length, 1);
  assert.ok(existsSync(`/dev/${uio[0]}`));
  // Only the named device moved.
  assert.deepEqual(readdirSync("/sys/bus/pci/devices").filter((d) => d !== EDU).map((d) => [d, driverOf(d)]), others);

  const back = capture();
  assert.equal(await runCli(["restore", "--journal", journal], back, commands), 0, back.err());
  assert.equal(driverOf(EDU), "vfio-pci");
  assert.equal(existsSync(`/sys/bus/pci/devices/${EDU}/uio`), false);
});
