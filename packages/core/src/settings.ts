import { type BackoffOptions, defaultBackoff } from "./backoff.js";
import { XiaozhiError } from "./errors.js";
import {
  checkOption,
  msRule as ms,
  type OptionRule,
  positiveMsRule as positiveMs,
  shownValue,
} from "./option-rules.js";
import type { Strategy } from "./strategy.js";

/**
 * Timings and policies of a manager; every field has a default. Times in ms, finite and 0 or more
 * unless a field says otherwise; a value out of range throws `INVALID_CONFIG` when settings are made.
 */
export interface ManagerSettings {
  /** Reconnect after a drop or failed attempt; default true. */
  readonly autoReconnect: boolean;
  readonly backoff: BackoffOptions;
  /** Reconnect attempts before giving up as `failed`: a whole number or Infinity (default). */
  readonly maxReconnectAttempts: number;
  /** A link must stay up this long before its attempt counter resets; default 10000. */
  readonly minUptime: number;
  /** An attempt that has not connected by then is abandoned; above 0, default 10000. */
  readonly connectTimeout: number;
  /** Default deadline of `dispatch` and `broadcast`; above 0 (Infinity: none), default 30000. */
  readonly dispatchTimeout: number;
  /**
   * Below this share (0 to 1) of healthy connections, dispatch spreads over all connected ones;
   * default 0.5.
   */
  readonly panicThreshold: number;
  /**
   * When a link to a host connects, the other endpoints on that host still waiting to retry try
   * again within this window, each at a random point of it (so a host back from an outage gets
   * every endpoint back in seconds, not after their grown backoff, and still spread). Few endpoints
   * are not held back for the whole window: the spread is about 2 ms per waiting endpoint, up to
   * the window; they then take their turns with other attempts (`connectConcurrency`). 0 turns
   * recovery off, host probes included; default 2000.
   */
  readonly recoveryWindow: number;
  /**
   * While every endpoint of a host is refused, the host is probed this often (the factory's
   * `probe`, a TCP connect for WebSocket) and its endpoints brought forward when it answers.
   * 0 turns probing off; default 500.
   */
  readonly probeInterval: number;
  /**
   * Attempts under way at once (first connects at start and for endpoints added, and retries whose
   * time came); the rest wait their turn, each attempt holding its place until its link is open, it
   * settles, or for a second. Default 200: a burst of more may overflow the far side's accept queue, and a connect it
   * drops waits for the kernel to send it again (after 1, 3, 7, 15 s). A whole number; 0 or
   * Infinity: no limit.
   */
  readonly connectConcurrency: number;
  /**
   * After the far side rejects the token (HTTP 401/403 at the upgrade, an auth close such as 1008),
   * the endpoint is `failed` and tries again this often, each wait ±20% at random: a token a gateway
   * refused during a deploy comes back without a restart, and a revoked one is tried rarely.
   * 0: never again until reconnected by hand or the config changes; default 300000 (5 min).
   */
  readonly authRetryInterval: number;
}

/** A partial change of settings; `backoff` may be partial too. */
export type SettingsChange = Partial<Omit<ManagerSettings, "backoff">> & {
  readonly backoff?: Partial<BackoffOptions>;
};

/** What a manager uses for every setting it is not given. */
export const defaultManagerSettings: ManagerSettings = Object.freeze({
  autoReconnect: true,
  backoff: defaultBackoff,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
  minUptime: 10_000,
  connectTimeout: 10_000,
  dispatchTimeout: 30_000,
  panicThreshold: 0.5,
  recoveryWindow: 2000,
  probeInterval: 500,
  connectConcurrency: 200,
  authRetryInterval: 300_000,
});

/**
 * `base` with the fields `change` sets; frozen. Fields set to `undefined` keep their base value.
 * Throws `INVALID_CONFIG` naming the first setting out of its range (see `checkSettings`).
 */
export function mergeSettings(base: ManagerSettings, change: SettingsChange): ManagerSettings {
  const pick = <K extends keyof ManagerSettings>(key: K): ManagerSettings[K] =>
    (change[key as keyof SettingsChange] as ManagerSettings[K] | undefined) ?? base[key];
  return checkSettings(
    Object.freeze({
      autoReconnect: pick("autoReconnect"),
      maxReconnectAttempts: pick("maxReconnectAttempts"),
      minUptime: pick("minUptime"),
      connectTimeout: pick("connectTimeout"),
      dispatchTimeout: pick("dispatchTimeout"),
      panicThreshold: pick("panicThreshold"),
      recoveryWindow: pick("recoveryWindow"),
      probeInterval: pick("probeInterval"),
      connectConcurrency: pick("connectConcurrency"),
      authRetryInterval: pick("authRetryInterval"),
      backoff: Object.freeze({ ...base.backoff, ...definedOf(change.backoff) }),
    }),
  );
}

/** The backoff fields `change` sets: as at the top level, one set to `undefined` keeps its base value. */
function definedOf(change: Partial<BackoffOptions> | undefined): Partial<BackoffOptions> {
  if (change === undefined || change === null) return {};
  // Spreading a number or a string would quietly keep the defaults.
  if (typeof change !== "object" || Array.isArray(change)) {
    throw new XiaozhiError("INVALID_CONFIG", `backoff must be an object, got ${shownValue(change)}`);
  }
  return Object.fromEntries(
    Object.entries(change).filter(([, value]) => value !== undefined && value !== null),
  );
}

const isNumber = (value: unknown): value is number => typeof value === "number";
const countOrUnlimited = (unlimited: string): OptionRule => [
  (v) => isNumber(v) && v >= 0 && (Number.isInteger(v) || v === Number.POSITIVE_INFINITY),
  `a whole number, 0 or more (${unlimited})`,
];

const settingRules: { readonly [K in Exclude<keyof ManagerSettings, "backoff">]: OptionRule } = {
  autoReconnect: [(v) => typeof v === "boolean", "true or false"],
  maxReconnectAttempts: countOrUnlimited("Infinity: no limit"),
  minUptime: ms,
  // 0 would abandon every attempt at once; and a timer given Infinity fires at once too.
  connectTimeout: positiveMs,
  // The dispatcher reads a deadline too long for a timer, Infinity included, as none at all.
  dispatchTimeout: [(v) => isNumber(v) && v > 0, "a number of ms above 0 (Infinity: no deadline)"],
  // A share of the connected links: past 1 every unhealthy link would mean panic.
  panicThreshold: [(v) => isNumber(v) && v >= 0 && v <= 1, "a share from 0 to 1"],
  recoveryWindow: ms,
  probeInterval: ms,
  connectConcurrency: countOrUnlimited("0 or Infinity: no limit"),
  authRetryInterval: ms,
};

const backoffRules: { readonly [K in keyof BackoffOptions]: OptionRule } = {
  initialDelay: ms,
  // Below 1 the delays would shrink with every failure instead of growing.
  multiplier: [(v) => isNumber(v) && Number.isFinite(v) && v >= 1, "a finite number, 1 or more"],
  maxDelay: ms,
  jitter: [(v) => v === "full" || v === "none", '"full" or "none"'],
};

/**
 * Returns `settings` when every field is in its range, else throws `INVALID_CONFIG` naming the
 * first field that is not and its value. Times are finite ms, 0 or more (`connectTimeout` above
 * 0; `dispatchTimeout` above 0, Infinity for no deadline); `maxReconnectAttempts` and
 * `connectConcurrency` whole numbers or Infinity; `panicThreshold` from 0 to 1;
 * `backoff.multiplier` 1 or more.
 */
function checkSettings(settings: ManagerSettings): ManagerSettings {
  for (const [name, rule] of Object.entries(settingRules)) {
    checkOption(name, rule, settings[name as keyof typeof settingRules]);
  }
  for (const [name, rule] of Object.entries(backoffRules)) {
    checkOption(`backoff.${name}`, rule, settings.backoff[name as keyof BackoffOptions]);
  }
  return settings;
}

/**
 * `options.connectionFactory`, checked: plain JavaScript may leave it out or pass something else,
 * and that is named here as `INVALID_CONFIG` rather than met later as a `TypeError`.
 */
export function factoryOf<F>(options: { readonly connectionFactory: F }): F {
  const factory = (options as { readonly connectionFactory?: unknown } | undefined)?.connectionFactory;
  if (typeof factory !== "function") {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `connectionFactory must be a function, got ${shownValue(factory)}`,
    );
  }
  return factory as F;
}

/**
 * `value` when it is a strategy (an object with a `select` function), `undefined` when it is
 * `undefined` or `null`; anything else throws `INVALID_CONFIG`. Plain JavaScript may pass a
 * strategy's name, or an object that is no strategy, and the manager would otherwise fail every
 * dispatch with a `TypeError` or quietly send everything to the first endpoint.
 */
export function strategyOf(value: unknown): Strategy | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `strategy must be an object with a select function, got the name ${shownValue(value)}: names are resolved with ` +
        `StrategyRegistry's create(name) from @xiaozhi-connect/balancer, ` +
        `e.g. StrategyRegistry.withBuiltins().create(${shownValue(value)})`,
    );
  }
  if (typeof value !== "object" || typeof (value as { select?: unknown }).select !== "function") {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `strategy must be an object with a select function (core's Strategy), got ${shownValue(value)}` +
        (typeof value === "object" ? " without one" : ""),
    );
  }
  return value as Strategy;
}

/**
 * Settings and strategy after `change`, each checked before either is used: an invalid one throws
 * `INVALID_CONFIG` and the caller keeps what it had. A strategy `change` leaves out stays `strategy`.
 */
export function reconfigured(
  settings: ManagerSettings,
  strategy: Strategy,
  change: SettingsChange & { readonly strategy?: Strategy },
): [ManagerSettings, Strategy] {
  const next = strategyOf(change.strategy) ?? strategy;
  return [mergeSettings(settings, change), next];
}
