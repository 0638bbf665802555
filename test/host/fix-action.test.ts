import { test } from "node:test";
import assert from "node:assert/strict";
import { bindVfioPciAction, unbindAction } from "../../src/host/fix-action.js";
import { parsePciAddress } from "../../src/api/pci-address.js";

test("unbindAction() writes the address to the bound driver's unbind", () => {
  assert.deepEqual(unbindAction(parsePciAddress("01:02.0"), "e1000").commands, ["echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind"]);
});

test("bindVfioPciAction() sets driver_override, unbinds the old driver, then probes", () => {
  assert.deepEqual(bindVfioPciAction(parsePciAddress("01:02.0"), "e1000").commands, [
    "echo vfio-pci > /sys/bus/pci/devices/0000:01:02.0/driver_override",
    "echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind",
    "echo 0000:01:02.0 > /sys/bus/pci/drivers_probe",
  ]);
  assert.equal(bindVfioPciAction(parsePciAddress("01:01.0"), undefined).commands.length, 2, "nothing to unbind");
  const action = bindVfioPciAction(parsePciAddress("01:02.0"), "e1000");
  assert.equal(action.kind === "bind-vfio-pci" && action.vfio, "vfio bind 0000:01:02.0");
});
