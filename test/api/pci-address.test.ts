import { test } from "node:test";
import assert from "node:assert/strict";
import { comparePciAddress, devfn, formatBdf, parseBdf, parsePciAddress, tryParsePciAddress } from "../../src/api/pci-address.js";

test("parsePciAddress() keeps a full address and lower-cases it", () => {
  assert.equal(parsePciAddress("0000:00:1F.2"), "0000:00:1f.2");
});

test("parsePciAddress() fills in domain 0000 for the short form lspci prints", () => {
  assert.equal(parsePciAddress("01:02.0"), "0000:01:02.0");
});

test("parsePciAddress() accepts a domain above ffff (VMD domains)", () => {
  assert.equal(parsePciAddress("10000:e1:00.0"), "10000:e1:00.0");
});

for (const bad of ["", "1f.2", "0000:01:20.0", "0000:01:00.8", "0000:1:00.0", "00:01:00.0.1", "zz:00.0", "0000:01:00"]) {
  test(`parsePciAddress() rejects '${bad}' with a usage error coded EINVAL`, () => {
    assert.throws(() => parsePciAddress(bad), { name: "VfioUsageError", code: "EINVAL" });
    assert.equal(tryParsePciAddress(bad), undefined);
  });
}

test("comparePciAddress() orders by bus, device, function", () => {
  const sorted = ["0000:01:00.0", "0000:00:1f.3", "0000:00:02.0", "0000:00:1f.0"].sort(comparePciAddress);
  assert.deepEqual(sorted, ["0000:00:02.0", "0000:00:1f.0", "0000:00:1f.3", "0000:01:00.0"]);
});

test("parseBdf() splits an address into numbers and formatBdf() restores its canonical spelling", () => {
  assert.deepEqual(parseBdf("01:1F.7"), { domain: 0, bus: 1, device: 0x1f, fn: 7 });
  assert.equal(parseBdf("00:20.0"), undefined);
  assert.equal(formatBdf({ domain: 0, bus: 0xa, device: 3, fn: 1 }), "0000:0a:03.1");
  assert.equal(devfn({ domain: 0, bus: 0, device: 3, fn: 1 }), 0x19);
});
