/**
 * The layout oracle: compiles a C program against this machine's <linux/vfio.h> and
 * <linux/pci_regs.h>, generated from the TypeScript declarations themselves, and compares
 * every sizeof, offsetof, ioctl number and constant. No layout is trusted until this passes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as constants from "../../src/api/constants.js";
import { vfioIoctls } from "../../src/abi/ioctl-number.js";
import { vfioLayouts } from "../../src/abi/vfio/layouts.js";

/** Constants that vfio.h declares as enum members, which #ifdef cannot see: printed unconditionally. */
const enumMember = /^VFIO_PCI_(\w+_(REGION|IRQ)_INDEX|NUM_REGIONS|NUM_IRQS)$/;

function cProgram(constantNames: readonly string[]): string {
  const lines: string[] = [
    "#include <stdio.h>",
    "#include <stddef.h>",
    "#include <linux/vfio.h>",
    "#include <linux/pci_regs.h>",
    "int main(void) {",
  ];
  for (const { layout, flexibleArray } of vfioLayouts) {
    lines.push(`  printf("size ${layout.name} %zu\\n", sizeof(struct ${layout.name}));`);
    for (const key of Object.keys(layout.fields)) {
      const member = layout.cFields[key]!;
      lines.push(`  printf("offset ${layout.name} ${key} %zu\\n", offsetof(struct ${layout.name}, ${member}));`);
      lines.push(`  printf("width ${layout.name} ${key} %zu\\n", sizeof(((struct ${layout.name} *)0)->${member}));`);
    }
    if (flexibleArray) {
      lines.push(`  printf("flex ${layout.name} %zu\\n", offsetof(struct ${layout.name}, ${flexibleArray}));`);
    }
  }
  for (const name of Object.keys(vfioIoctls)) {
    lines.push(`  printf("ioctl ${name} %lu\\n", (unsigned long)(${name}));`);
  }
  for (const name of constantNames) {
    if (enumMember.test(name)) {
      lines.push(`  printf("const ${name} %lld\\n", (long long)(${name}));`);
    } else {
      lines.push(`#ifdef ${name}`, `  printf("const ${name} %lld\\n", (long long)(${name}));`, "#else",
        `  printf("absent ${name} 1\\n");`, "#endif");
    }
  }
  lines.push("  return 0;", "}");
  return lines.join("\n") + "\n";
}

function runAgainstHeader(source: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "vfio-header-"));
  try {
    writeFileSync(join(dir, "probe.c"), source);
    try {
      execFileSync("gcc", ["-std=gnu11", "-Wall", "-o", join(dir, "probe"), join(dir, "probe.c")], { stdio: "pipe" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new Error("gcc not found: the vfio.h layout check needs gcc and linux-libc-dev (apt-get install gcc linux-libc-dev)");
      }
      throw new Error(`compiling the vfio.h probe failed:\n${String((error as { stderr?: unknown }).stderr)}`);
    }
    const out = execFileSync(join(dir, "probe"), { encoding: "utf8" });
    const facts = new Map<string, string>();
    for (const line of out.trim().split("\n")) {
      const at = line.lastIndexOf(" ");
      facts.set(line.slice(0, at), line.slice(at + 1));
    }
    return facts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const numericConstants = Object.entries(constants).filter((e): e is [string, number] => typeof e[1] === "number");
const facts = runAgainstHeader(cProgram(numericConstants.map(([name]) => name)));

test("every declared vfio.h struct has the header's sizeof and field offsets and widths", () => {
  for (const { layout, flexibleArray } of vfioLayouts) {
    assert.equal(Number(facts.get(`size ${layout.name}`)), layout.size, `sizeof(struct ${layout.name})`);
    for (const [key, field] of Object.entries(layout.fields)) {
      const offset = (layout.offsets as Record<string, number>)[key];
      assert.equal(Number(facts.get(`offset ${layout.name} ${key}`)), offset, `offsetof(${layout.name}, ${layout.cFields[key]})`);
      assert.equal(Number(facts.get(`width ${layout.name} ${key}`)), field.size, `sizeof ${layout.name}.${layout.cFields[key]}`);
    }
    if (flexibleArray) {
      assert.equal(Number(facts.get(`flex ${layout.name}`)), layout.size, `${layout.name}.${flexibleArray}[] starts at sizeof`);
    }
  }
});

test("every VFIO ioctl number matches _IO(VFIO_TYPE, VFIO_BASE + n) in the header", () => {
  assert.ok(Object.keys(vfioIoctls).length >= 15);
  for (const [name, value] of Object.entries(vfioIoctls)) {
    assert.equal(Number(facts.get(`ioctl ${name}`)), value, name);
  }
});

test("every api constant the header defines has the header's value", (t) => {
  const absent: string[] = [];
  let checked = 0;
  for (const [name, value] of numericConstants) {
    const raw = facts.get(`const ${name}`);
    if (raw === undefined) {
      assert.ok(facts.has(`absent ${name}`), `${name} neither printed nor absent`);
      absent.push(name);
      continue;
    }
    assert.equal(Number(raw), value, name);
    checked++;
  }
  if (absent.length > 0) t.diagnostic(`not in this machine's headers (newer than them): ${absent.join(", ")}`);
  // A header that defines almost nothing means the wrong header was found, not a pass.
  assert.ok(checked > numericConstants.length - 5, `only ${checked} of ${numericConstants.length} constants checked`);
});
