import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileJournal, type JournalEntry } from "../../src/host/journal.js";

const entry = (address: string, sysfs = "/sys"): JournalEntry => ({
  address, group: 3, previousDriver: "e1000", previousOverride: null, boundTo: "vfio-pci", time: "2026-11-23T22:00:00.000Z", sysfs,
});

test("fileJournal() records, replaces per address and sysfs, removes, and survives a reopen", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-journal-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "sub", "journal.json");
  const journal = fileJournal(path);
  assert.deepEqual(await journal.entries(), []);
  await journal.record(entry("0000:00:03.0"));
  await journal.record(entry("0000:00:03.0", "fixture"));
  await journal.record({ ...entry("0000:00:03.0"), previousDriver: "igb" });
  assert.deepEqual((await fileJournal(path).entries()).map((e) => [e.sysfs, e.previousDriver]), [["fixture", "e1000"], ["/sys", "igb"]]);
  await journal.remove("0000:00:03.0", "/sys");
  assert.deepEqual(await fileJournal(path).entries(), [entry("0000:00:03.0", "fixture")]);
  assert.equal(JSON.parse(readFileSync(path, "utf8")).version, 1);
});

test("fileJournal() rejects a file that is not a journal with EPROTO, naming the file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-journal-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "journal.json");
  writeFileSync(path, "{not json");
  await assert.rejects(fileJournal(path).entries(), { name: "VfioProtocolError", code: "EPROTO", field: "journal" });
  writeFileSync(path, JSON.stringify({ version: 1, entries: [{ address: 1 }] }));
  await assert.rejects(fileJournal(path).entries(), { code: "EPROTO" });
});

test("fileJournal() reports a directory or an unwritable path as a VfioSystemError naming the file, not a raw fs error", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-journal-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(fileJournal(dir).entries(), { name: "VfioSystemError", code: "EISDIR", op: "journal read", target: dir });
  writeFileSync(join(dir, "file"), "");
  const under = join(dir, "file", "journal.json");
  await assert.rejects(fileJournal(under).record(entry("0000:00:03.0")), (error: { name: string; op: string; target: string; code: string }) => {
    assert.equal(error.name, "VfioSystemError");
    assert.equal(error.op, "journal read");
    assert.equal(error.code, "ENOTDIR");
    assert.equal(error.target, under);
    return true;
  });
});
