import { type BackoffOptions, defaultBackoff } from "./backoff.js";

/** Timings and policies of a manager; every field has a default. Times in ms. */
export interface ManagerSettings {
  /** Reconnect after a drop or failed attempt; default true. */
  readonly autoReconnect: boolean;
  readonly backoff: BackoffOptions;
  /** Reconnect attempts before giving up as `failed`; default Infinity. */
  readonly maxReconnectAttempts: number;
  /** A link must stay up this long before its attempt counter resets; default 10000. */
  readonly minUptime: number;
  /** An attempt that has not connected by then is abandoned; default 10000. */
  readonly connectTimeout: number;
  /** Default deadline of `dispatch` and `broadcast`; default 30000. */
  readonly dispatchTimeout: number;
  /** Below this share of healthy connections, dispatch spreads over all connected ones; default 0.5. */
  readonly panicThreshold: number;
  /**
   * When a link to a host connects, the other endpoints on that host still waiting to retry try
   * again within this window, each at a random point of it (so a host back from an outage gets
   * every endpoint back in seconds, not after their grown backoff, and still spread). Few endpoints
   * are not held back for the whole window: the spread is about 2 ms per waiting endpoint, up to
   * the window. 0 turns recovery off, host probes included; default 2000.
   */
  readonly recoveryWindow: number;
  /**
   * While every endpoint of a host is refused, the host is probed this often (the factory's
   * `probe`, a TCP connect for WebSocket) and its endpoints brought forward when it answers.
   * 0 turns probing off; default 500.
   */
  readonly probeInterval: number;
  /**
   * First connects under way at once (at start, and for endpoints added); the rest wait their
   * turn, each attempt holding its place until it settles or for a second. Reconnects are spread
   * by their backoff and do not wait. 0: no limit; default 200 (a burst of more may overflow the
   * far side's accept queue, and the connects it drops time out).
   */
  readonly connectConcurrency: number;
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
});

/** `base` with the fields `change` sets; frozen. Fields set to `undefined` keep their base value. */
export function mergeSettings(base: ManagerSettings, change: SettingsChange): ManagerSettings {
  const pick = <K extends keyof ManagerSettings>(key: K): ManagerSettings[K] =>
    (change[key as keyof SettingsChange] as ManagerSettings[K] | undefined) ?? base[key];
  return Object.freeze({
    autoReconnect: pick("autoReconnect"),
    maxReconnectAttempts: pick("maxReconnectAttempts"),
    minUptime: pick("minUptime"),
    connectTimeout: pick("connectTimeout"),
    dispatchTimeout: pick("dispatchTimeout"),
    panicThreshold: pick("panicThreshold"),
    recoveryWindow: pick("recoveryWindow"),
    probeInterval: pick("probeInterval"),
    connectConcurrency: pick("connectConcurrency"),
    backoff: Object.freeze({ ...base.backoff, ...change.backoff }),
  });
}
