/** Reconnect backoff: exponential with full jitter. All times in ms. */
export interface BackoffOptions {
  /** Ceiling of the first delay; default 1000. */
  readonly initialDelay: number;
  /** Growth of the ceiling per attempt; default 2. */
  readonly multiplier: number;
  /** Cap of the ceiling; default 60000. */
  readonly maxDelay: number;
  /** `full`: uniform in [0, ceiling] (spreads herds); `none`: exactly the ceiling. Default `full`. */
  readonly jitter: "full" | "none";
}

export const defaultBackoff: BackoffOptions = Object.freeze({
  initialDelay: 1000,
  multiplier: 2,
  maxDelay: 60_000,
  jitter: "full",
});

/** The ceiling for a 0-based attempt: `min(maxDelay, initialDelay × multiplier^attempt)`. */
export function backoffCeiling(attempt: number, options: BackoffOptions = defaultBackoff): number {
  const raw = options.initialDelay * options.multiplier ** Math.max(0, attempt);
  return Math.min(options.maxDelay, Number.isFinite(raw) ? raw : options.maxDelay);
}

/**
 * The delay before reconnect attempt `attempt` (0-based). Full jitter keeps a thousand endpoints
 * that lost their cloud at the same instant from reconnecting in lockstep.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, options);
  return options.jitter === "none" ? ceiling : Math.floor(random() * ceiling);
}

/**
 * The wait before retry `attempt` when the far side may have `asked` for one (`Retry-After`, ms):
 * the asked wait, spread by up to a fifth, only lengthens the backoff (`Retry-After: 0` is no
 * reason to retry at once), and neither passes `maxDelay`.
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
  asked: number | undefined,
): number {
  const backoffMs = backoffDelay(attempt, options, random);
  const askedMs = asked === undefined ? 0 : asked * (1 + 0.2 * random());
  return Math.round(Math.min(options.maxDelay, Math.max(backoffMs, askedMs)));
}
