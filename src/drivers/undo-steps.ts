/**
 * Undoing a driver's open part-way: each step that acquired something (a mapping, a buffer, an
 * interrupt) pushes its release; on failure they run in reverse order, and a release that fails
 * too is ignored so that the first error, the one that says why open failed, is the one thrown.
 */
export type UndoSteps = (() => Promise<void> | void)[];

/** Runs `undo` last-first, ignoring failures of the releases themselves. */
export async function runUndo(undo: UndoSteps): Promise<void> {
  for (const step of [...undo].reverse()) {
    try {
      await step();
    } catch {
      // Keep the first error: it says why open failed.
    }
  }
}
