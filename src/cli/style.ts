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

/**
 * The width tables must fit: the terminal's columns when stdout is a terminal, else undefined
 * (a pipe or a file gets every character: a script's grep must not meet a cut name).
 */
export function terminalWidth(io: CommandIo): number | undefined {
  const { isTTY, columns } = io.stdout;
  return isTTY === true && columns !== undefined && columns > 0 ? columns : undefined;
}

const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string): number => s.replace(ANSI, "").length;
/** No column is cut below this many characters (nor below its heading). */
const MIN_COLUMN = 8;

/** `cell` cut to `width` characters with "…"; a cut cell loses its colour (its codes cannot be split). */
function cut(cell: string, width: number): string {
  if (visible(cell) <= width) return cell;
  return `${cell.replace(ANSI, "").slice(0, Math.max(0, width - 1)).trimEnd()}…`;
}

/**
 * Formats rows as columns separated by two spaces; widths ignore ANSI codes. With `maxWidth`,
 * columns are cut (with "…") until a row fits, none below 8 characters: first the columns
 * `giveWay` names, the widest of them first (long names, which the ids beside them identify
 * anyway), then the widest of all.
 */
export function formatTable(rows: readonly (readonly string[])[], maxWidth?: number, giveWay: readonly number[] = []): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  if (maxWidth !== undefined) {
    const floor = widths.map((w) => Math.min(w, MIN_COLUMN));
    const total = (): number => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
    /** Narrows the widest of `columns` still above its floor by one; false when none is. */
    const narrow = (columns: readonly number[]): boolean => {
      let widest = -1;
      for (const i of columns) if (widths[i]! > floor[i]! && (widest === -1 || widths[i]! >= widths[widest]!)) widest = i;
      if (widest === -1) return false;
      widths[widest]! -= 1;
      return true;
    };
    const shrinkable = giveWay.filter((i) => i < widths.length);
    while (total() > maxWidth && (narrow(shrinkable) || narrow(widths.map((_, i) => i))));
  }
  return rows
    .map((row) => row.map((cell, i) => {
      const fitted = cut(cell, widths[i] ?? 0);
      return i === row.length - 1 ? fitted : fitted + " ".repeat((widths[i] ?? 0) - visible(fitted));
    }).join("  ").trimEnd())
    .join("\n");
}
