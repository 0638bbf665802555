import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { loadLibc } from "../../src/native/libc.js";
import { allocateMemfd, PAGE_SIZE } from "../../src/native/process-memory.js";

const openFds = (): number => readdirSync("/proc/self/fd").length;

test("allocateMemfd() rounds up to whole pages and shares its bytes with the memfd", () => {
  const libc = loadLibc();
  const memory = allocateMemfd(libc, 5000);
  try {
    assert.equal(memory.size, 2 * PAGE_SIZE);
    assert.equal(memory.bytes.byteLength, memory.size);
    assert.equal(libc.address(memory.bytes), memory.vaddr);
    memory.bytes[4999] = 0xa5;
    const back = new Uint8Array(1);
    assert.equal(libc.pread(memory.fd!, back, 4999n), 1);
    assert.equal(back[0], 0xa5);
    assert.equal(libc.pwrite(memory.fd!, Uint8Array.of(0x5a), 7n), 1);
    assert.equal(memory.bytes[7], 0x5a);
  } finally {
    memory.free();
  }
});

test("free() closes the memfd, is idempotent, and leaves stale views harmless", () => {
  const before = openFds();
  const memory = allocateMemfd(loadLibc(), PAGE_SIZE);
  const stale = memory.bytes;
  stale[0] = 1;
  assert.equal(openFds(), before + 1);
  memory.free();
  memory.free();
  assert.equal(memory.fd, undefined);
  assert.equal(openFds(), before);
  // The pages were replaced by a zero-fill placeholder: no SIGSEGV, no old contents.
  assert.equal(stale[0], 0);
  stale[0] = 2;
});

test("hugepages fall back to base pages where the host has none free", { skip: hugePagesFree() > 0 && "this host has free huge pages" }, () => {
  const memory = allocateMemfd(loadLibc(), PAGE_SIZE, { hugepages: true });
  try {
    assert.equal(memory.hugepages, false);
    assert.equal(memory.size, PAGE_SIZE);
  } finally {
    memory.free();
  }
});

test("allocateMemfd() rejects a size that is not a byte count", () => {
  assert.throws(() => allocateMemfd(loadLibc(), -1), RangeError);
  assert.throws(() => allocateMemfd(loadLibc(), 1.5), RangeError);
});

function hugePagesFree(): number {
  const meminfo = readFileSyncSafe("/proc/meminfo");
  return Number(/HugePages_Free:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
