import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { RLIM_INFINITY, loadLibc } from "../../src/native/libc.js";
import { memlockShortfall, processLockedMemory } from "../../src/kernel/memlock.js";

function status(capEff: string, vmLckKb: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), "memlock-"));
  const file = path.join(dir, "status");
  writeFileSync(file, `Name:\tnode\nVmLck:\t    ${vmLckKb} kB\nCapEff:\t${capEff}\n`);
  return file;
}

test("CAP_IPC_LOCK (bit 14 of CapEff) lifts the limit, as vfio_pin_pages_remote skips the check", () => {
  const memory = processLockedMemory(loadLibc(), status("0000000000004000", 0));
  assert.equal(memory.hasIpcLock(), true);
  assert.equal(memlockShortfall({ ...memory, limit: () => 4096n }, 1n << 30n), undefined);
});

test("without CAP_IPC_LOCK a mapping past RLIMIT_MEMLOCK counting VmLck is a shortfall; up to it is not", () => {
  const memory = processLockedMemory(loadLibc(), status("00000000000000ff", 6 * 1024));
  assert.equal(memory.hasIpcLock(), false);
  assert.equal(memory.locked(), 6n << 20n);
  const limited = { ...memory, limit: () => 8n << 20n };
  assert.equal(memlockShortfall(limited, 2n << 20n), undefined);
  assert.deepEqual(memlockShortfall(limited, (2n << 20n) + 4096n), { limit: 8n << 20n, locked: 6n << 20n });
  assert.equal(memlockShortfall({ ...memory, limit: () => RLIM_INFINITY }, 1n << 40n), undefined);
});

test("the limit comes from getrlimit(RLIMIT_MEMLOCK)", () => {
  const limit = processLockedMemory(loadLibc()).limit();
  assert.ok(limit > 0n);
});
