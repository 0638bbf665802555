import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultCapabilities, encodeVersion, formatCapabilities, parseCapabilities, parseVersion } from "../../../src/user/protocol/version.js";

test("libvfio-user's reply parses: max_msg_fds, max_data_xfer_size, legacy migration pgsize", () => {
  const caps = parseCapabilities(JSON.parse('{ "capabilities": { "max_msg_fds": 8, "max_data_xfer_size": 1048576, "migration": { "pgsize": 4096 } } }'));
  assert.deepEqual(caps, { ...defaultCapabilities, maxMsgFds: 8, maxDataXferSize: 1048576, migrationPgsize: 4096 });
});

test("absent keys take the spec defaults; unknown keys are ignored", () => {
  assert.deepEqual(parseCapabilities({}), defaultCapabilities);
  assert.deepEqual(parseCapabilities({ capabilities: { future_thing: [1] } }), defaultCapabilities);
  assert.equal(defaultCapabilities.maxMsgFds, 1);
  assert.equal(defaultCapabilities.maxDmaMaps, 65535);
  assert.equal(defaultCapabilities.pgsizes, 4096n);
});

test("twin_socket and write_multiple round-trip through format and parse", () => {
  const json = formatCapabilities({ maxMsgFds: 8, twinSocket: { supported: true, fdIndex: 0 }, writeMultiple: true, pgsizes: 4096n });
  const caps = parseCapabilities(JSON.parse(json));
  assert.deepEqual(caps.twinSocket, { supported: true, fdIndex: 0 });
  assert.equal(caps.writeMultiple, true);
  const v = parseVersion(encodeVersion(0, 2, { maxMsgFds: 3 }));
  assert.deepEqual([v.major, v.minor, v.capabilities.maxMsgFds], [0, 2, 3]);
});

test("malformed capabilities are refused with the field named", () => {
  for (const [json, field] of [
    [{ capabilities: 1 }, "capabilities"],
    [{ capabilities: { max_msg_fds: 1025 } }, "max_msg_fds"],
    [{ capabilities: { max_msg_fds: 1.5 } }, "max_msg_fds"],
    [{ capabilities: { max_data_xfer_size: 0 } }, "max_data_xfer_size"],
    [{ capabilities: { pgsizes: 0 } }, "pgsizes"],
    [{ capabilities: { twin_socket: { supported: "yes" } } }, "twin_socket"],
    [{ capabilities: { write_multiple: 1 } }, "write_multiple"],
    [[], "data"],
  ] as const) {
    assert.throws(() => parseCapabilities(json), { code: "EPROTO", field }, JSON.stringify(json));
  }
  assert.throws(() => parseVersion(new Uint8Array([0, 0, 2, 0, 0x7b])), { field: "data" });
});
