/**
 * Byte counts in the binary units the kernel's own messages use ("64 KiB", "8 MiB"), for
 * every message and table that prints a size: kernel/ hints (RLIMIT_MEMLOCK) and the CLI's
 * region and limit columns say the same size the same way. Pure, hence in api/.
 */

/**
 * A byte count in the largest binary unit that divides it exactly, else in bytes:
 * "1 GiB", "16 KiB", "6 KiB", "256 bytes".
 *
 * @example
 * formatBytes(0x4000n); // "16 KiB"
 */
export function formatBytes(bytes: bigint): string {
  for (const [unit, shift] of [["GiB", 30n], ["MiB", 20n], ["KiB", 10n]] as const) {
    if (bytes >= 1n << shift && bytes % (1n << shift) === 0n) return `${bytes >> shift} ${unit}`;
  }
  return `${bytes} bytes`;
}
