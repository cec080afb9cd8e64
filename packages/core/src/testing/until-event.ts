/** Subscribes `wake` to whatever announces a change; returns the function that unsubscribes. */
export type ChangeSubscription = (wake: () => void) => () => void;

/**
 * Resolves once `predicate` holds, checking it once subscribed and again each time one of `changes`
 * announces a change; rejects after `timeoutMs`, naming `what`. The event-driven twin of `until`, for state
 * that says when it changes: a wait ends on the event itself, not on the next poll after it.
 */
export function untilEvent(
  changes: ChangeSubscription | readonly ChangeSubscription[],
  predicate: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const unsubscribes: (() => void)[] = [];
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const unsubscribe of unsubscribes) unsubscribe();
      if (error) reject(error);
      else resolve();
    };
    const wake = () => {
      if (!settled && predicate()) settle();
    };
    const timer = setTimeout(() => settle(new Error(`${what} not met within ${timeoutMs} ms`)), timeoutMs);
    for (const subscribe of typeof changes === "function" ? [changes] : changes) {
      const unsubscribe = subscribe(wake);
      if (settled) unsubscribe();
      else unsubscribes.push(unsubscribe);
    }
    // Checked once subscribed, so a change another process makes in between is not missed.
    wake();
  });
}
