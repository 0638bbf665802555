/**
 * The number formats of the CLI's output, once: hex as lspci and the kernel print it, and byte
 * sizes in the binary units the kernel's messages use ("64 KiB", "8 MiB").
 */

/**
 * `value` in lower-case hex without prefix, zero-padded to `digits`: "8086", "020000".
 *
 * @example
 * hexDigits(0x8086, 4); // "8086"
 */
export function hexDigits(value: number | bigint, digits = 0): string {
  return value.toString(16).padStart(digits, "0");
}

/**
 * `value` as "0x…" hex, zero-padded to `digits`: "0x4000", "0x00000080".
 *
 * @example
 * hex(0x4000n); // "0x4000"
 */
export function hex(value: number | bigint, digits = 0): string {
  return `0x${hexDigits(value, digits)}`;
}

/** Sizes: the one formatter api/ shares with kernel/'s messages ("16 KiB", "256 bytes"). */
export { formatBytes } from "../api/format-bytes.js";
