/**
 * The PCI register table (api/pci-regs.ts) is <linux/pci_regs.h>: a C program compiled against
 * the header prints every name the table declares, and each must exist there with the table's
 * value. Unlike vfio.h's newer additions, nothing here may be absent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pciRegs from "../../src/api/pci-regs.js";

const entries: [string, number][] = Object.entries(pciRegs as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number");

function probe(): Map<string, string> {
  const lines = ["#include <stdio.h>", "#include <linux/pci_regs.h>", "int main(void) {"];
  for (const [name] of entries) {
    lines.push(`#ifdef ${name}`, `  printf("${name} %lld\\n", (long long)(${name}));`, "#else", `  printf("${name} absent\\n");`, "#endif");
  }
  lines.push("  return 0;", "}");
  const dir = mkdtempSync(join(tmpdir(), "pci-regs-"));
  try {
    writeFileSync(join(dir, "probe.c"), lines.join("\n") + "\n");
    execFileSync("gcc", ["-std=gnu11", "-Wall", "-o", join(dir, "probe"), join(dir, "probe.c")], { stdio: "pipe" });
    const out = execFileSync(join(dir, "probe"), { encoding: "utf8" });
    return new Map(out.trim().split("\n").map((line) => line.split(" ") as [string, string]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every PCI register name and value in api/pci-regs.ts is <linux/pci_regs.h>'s", () => {
  assert.ok(entries.length > 100, `only ${entries.length} constants`);
  const facts = probe();
  for (const [name, value] of entries) {
    const raw = facts.get(name);
    assert.notEqual(raw, "absent", `${name} is not in <linux/pci_regs.h>`);
    // The header's masks such as 0xfffffff8 print as unsigned.
    assert.equal(Number(raw), value, name);
  }
});
