import { type Connection, describeError, Emitter, type HealthScorer } from "@xiaozhi-connect/core";
import { raceAbort } from "@xiaozhi-connect/core/internal";

/** Active-check settings; every field has a default. Times in ms. */
export interface HealthMonitorOptions {
  /** Time between rounds; default 10000. */
  readonly interval: number;
  /** Each wait is interval × (1 ± jitter); default 0.2. */
  readonly jitter: number;
  /** A ping slower than this counts as failed; default 5000. */
  readonly timeout: number;
  /** Consecutive successes to be marked healthy again; default 2. */
  readonly healthyThreshold: number;
  /** Consecutive failures to be marked unhealthy; default 3. */
  readonly unhealthyThreshold: number;
  readonly random: () => number;
}

export interface CheckState {
  readonly healthy: boolean;
  readonly successes: number;
  readonly failures: number;
  readonly lastCheckAt: number;
  readonly lastRttMs?: number;
  readonly lastError?: string;
}

export interface HealthMonitorEventMap {
  /** One connection was checked. */
  checked: {
    readonly id: string;
    readonly ok: boolean;
    readonly rttMs?: number;
    readonly error?: string;
    readonly at: number;
  };
  /** A connection crossed a threshold. */
  healthChanged: {
    readonly id: string;
    readonly healthy: boolean;
    readonly reason: string;
    readonly at: number;
  };
}

export const defaultHealthMonitorOptions: HealthMonitorOptions = Object.freeze({
  interval: 10_000,
  jitter: 0.2,
  timeout: 5000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  random: Math.random,
});

/**
 * Active health checks through `Connection.ping()`: one round at a time over every connected link,
 * rounds spaced by a jittered interval and never overlapping. A failed check is reported to the
 * scorer as a failure; a successful ping reports its own RTT through the connection's `rtt` event,
 * which the manager already forwards. One timer, and none after `stop()`.
 */
export class HealthMonitor {
  readonly #events = new Emitter<HealthMonitorEventMap>();
  readonly #states = new Map<string, CheckState>();
  readonly #options: HealthMonitorOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #round: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #running = false;

  constructor(
    private readonly targets: () => Iterable<Connection>,
    private readonly scorer?: HealthScorer,
    options: Partial<HealthMonitorOptions> = {},
  ) {
    this.#options = { ...defaultHealthMonitorOptions, ...options };
  }

  on<K extends keyof HealthMonitorEventMap>(
    event: K,
    listener: (payload: HealthMonitorEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** The check state of one connection, if it was checked. */
  state(id: string): CheckState | undefined {
    return this.#states.get(id);
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#scheduleNext();
  }

  /** Stops checking; resolves once a round in flight has been abandoned. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort(new Error("health monitor stopped"));
    await this.#round;
    this.#events.removeAllListeners();
  }

  /** Runs one round now (joins the round in flight instead of overlapping it). */
  check(): Promise<void> {
    this.#round ??= this.#runRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  #scheduleNext(): void {
    if (!this.#running) return;
    const { interval, jitter, random } = this.#options;
    const delay = interval * (1 - jitter + 2 * jitter * random());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.check().then(() => this.#scheduleNext());
    }, delay);
  }

  async #runRound(): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const live = new Set<string>();
    const checks: Promise<void>[] = [];
    for (const connection of this.targets()) {
      if (connection.state !== "connected") continue;
      live.add(connection.id);
      checks.push(this.#checkOne(connection, abort.signal));
    }
    await Promise.all(checks);
    this.#abort = undefined;
    // Forget connections that went away, so the map does not grow with churn.
    for (const id of this.#states.keys()) if (!live.has(id)) this.#states.delete(id);
  }

  async #checkOne(connection: Connection, stopped: AbortSignal): Promise<void> {
    const { timeout } = this.#options;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no pong within ${timeout} ms`)), timeout);
    const onStop = () => controller.abort(stopped.reason);
    stopped.addEventListener("abort", onStop, { once: true });
    let rttMs: number | undefined;
    let error: string | undefined;
    try {
      // Raced against the signal so a ping that ignores it cannot hold up a round or stop().
      rttMs = await raceAbort(connection.ping(controller.signal), controller.signal);
    } catch (e) {
      error = controller.signal.aborted ? describeError(controller.signal.reason) : describeError(e);
    } finally {
      clearTimeout(timer);
      stopped.removeEventListener("abort", onStop);
    }
    if (stopped.aborted) return;
    this.#record(connection.id, rttMs, error);
  }

  #record(id: string, rttMs: number | undefined, error: string | undefined): void {
    const at = Date.now();
    const ok = error === undefined;
    const before = this.#states.get(id) ?? { healthy: true, successes: 0, failures: 0, lastCheckAt: at };
    const successes = ok ? before.successes + 1 : 0;
    const failures = ok ? 0 : before.failures + 1;
    let healthy = before.healthy;
    if (healthy && failures >= this.#options.unhealthyThreshold) healthy = false;
    if (!healthy && successes >= this.#options.healthyThreshold) healthy = true;
    this.#states.set(id, {
      healthy,
      successes,
      failures,
      lastCheckAt: at,
      ...(rttMs === undefined ? {} : { lastRttMs: rttMs }),
      ...(error === undefined ? {} : { lastError: error }),
    });
    if (!ok) this.scorer?.observe(id, { kind: "failure", at, reason: `health check: ${error}` });
    this.#events.emit("checked", {
      id,
      ok,
      at,
      ...(rttMs === undefined ? {} : { rttMs }),
      ...(error === undefined ? {} : { error }),
    });
    if (healthy !== before.healthy) {
      const reason = healthy ? `${successes} checks passed` : `${failures} checks failed: ${error}`;
      this.#events.emit("healthChanged", { id, healthy, reason, at });
    }
  }
}
