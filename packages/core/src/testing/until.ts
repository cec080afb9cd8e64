/**
 * Polls `predicate` every 10 ms until it holds; throws after `timeoutMs`, naming `what`.
 * Bounded by design, for tests and benchmarks that wait on real sockets and processes.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
