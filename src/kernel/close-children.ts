/**
 * Closing an owner's children, newest first, before the owner's own fd: a container's groups,
 * a group's devices. Every child is closed even when one fails; the errors are returned so the
 * owner can finish its own release and then report the first.
 */
export async function closeChildren(children: Iterable<{ close(): Promise<void> }>): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const child of [...children].reverse()) {
    try {
      await child.close();
    } catch (error) {
      errors.push(error);
    }
  }
  return errors;
}
