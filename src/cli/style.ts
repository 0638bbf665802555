/**
 * Colour for a terminal only: ANSI SGR codes when the stream is a TTY and NO_COLOR
 * (https://no-color.org) is unset; plain text otherwise (pipes, files, tests).
 */
import type { CommandIo } from "./command.js";

/** Text decorations; each is the identity when colour is off. */
export interface Style {
  readonly bold: (text: string) => string;
  readonly red: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly green: (text: string) => string;
  readonly dim: (text: string) => string;
}

const sgr = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const plain = (text: string) => text;

/** The style for `io.stdout`. */
export function styleFor(io: CommandIo): Style {
  const on = io.stdout.isTTY === true && (io.env["NO_COLOR"] ?? "") === "";
  return on
    ? { bold: sgr("1"), red: sgr("31"), yellow: sgr("33"), green: sgr("32"), dim: sgr("2") }
    : { bold: plain, red: plain, yellow: plain, green: plain, dim: plain };
}

/** Formats rows as columns separated by two spaces; `width` ignores ANSI codes. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visible(cell)))).join("  ").trimEnd())
    .join("\n");
}
