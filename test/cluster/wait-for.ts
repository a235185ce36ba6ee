/**
 * Polls `condition` until it returns true, so tests wait on state rather than on
 * fixed sleeps. Raises with `description` when `timeoutMs` passes first.
 */
export async function waitFor(description: string, condition: () => boolean, timeoutMs = 5_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
