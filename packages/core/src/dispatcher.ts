import { raceAbort } from "./abort.js";
import type { Connection } from "./connection.js";
import type { EndpointSupervisor } from "./endpoint-supervisor.js";
import { describeError, neverReached, XiaozhiError } from "./errors.js";
import type { HealthScorer } from "./health.js";
import type { Logger } from "./logger.js";
import { redact } from "./mask.js";
import type { ManagerSettings } from "./settings.js";
import type { Candidate, SelectContext, Strategy } from "./strategy.js";

export interface DispatchOptions {
  /**
   * Deadline for the whole dispatch including failovers, ms; default `dispatchTimeout`. With a
   * `signal`, 2³¹ − 1 (the longest a timer waits, about 24.8 days) or more means none: only the
   * signal ends it. Without one, a longer deadline is cut to 2³¹ − 1.
   */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
  /** Affinity key passed to the strategy. */
  readonly key?: string;
}

export type BroadcastResult<T> =
  | { readonly id: string; readonly url: string; readonly ok: true; readonly value: T }
  | { readonly id: string; readonly url: string; readonly ok: false; readonly error: unknown };

/** The longest a timer waits, ms: from it up a dispatch has no deadline of its own. */
const noDispatchDeadline = 2 ** 31 - 1;

/** An operation run on one connection; `signal` aborts at the dispatch deadline. */
export type ConnectionOperation<C, T> = (connection: C, signal: AbortSignal) => Promise<T>;

/** What a strategy sees of one supervised endpoint; live values read at pick time. */
export class SupervisedCandidate<C extends Connection> implements Candidate<C> {
  inflight = 0;
  constructor(
    readonly supervisor: EndpointSupervisor<C>,
    private readonly health: HealthScorer | undefined,
  ) {}
  get id() {
    return this.supervisor.endpoint.id;
  }
  get connection() {
    return this.supervisor.connection;
  }
  get weight() {
    return this.supervisor.endpoint.weight;
  }
  get healthScore() {
    return this.health ? this.health.score(this.id) : 100;
  }
  get ejected() {
    return this.health?.isEjected(this.id) ?? false;
  }
}

export interface DispatcherContext<C extends Connection> {
  readonly candidates: () => Iterable<SupervisedCandidate<C>>;
  readonly strategy: () => Strategy;
  readonly settings: () => ManagerSettings;
  readonly now: () => number;
  readonly random: () => number;
  readonly health: HealthScorer | undefined;
  readonly logger: Logger;
}

/**
 * Sends outbound operations: picks a healthy connection with the strategy, fails over to the next
 * when an operation provably never reached the first, and broadcasts to every connected one.
 * Keeps the pool of candidates until `invalidate()` (membership, state, weight or ejection changed),
 * so strategies get the same array between changes and a new one after.
 */
export class Dispatcher<C extends Connection> {
  #pool: { healthy: SupervisedCandidate<C>[]; connected: SupervisedCandidate<C>[] } | undefined;
  /** What each strategy did wrong and was told of, so a log says it once, not once per call. */
  readonly #said = new WeakMap<Strategy, Set<string>>();

  constructor(private readonly context: DispatcherContext<C>) {}

  invalidate(): void {
    this.#pool = undefined;
  }

  /** Connected candidates not ejected by the health scorer. */
  healthy(): SupervisedCandidate<C>[] {
    return this.#getPool().healthy;
  }

  /**
   * Runs `op` on one healthy connection picked by the strategy. When `op` fails in a way that
   * proves it never reached that connection (`NOT_CONNECTED`, `SEND_FAILED`), the next candidate is
   * tried at once, until the deadline; any other failure is returned as is, so nothing runs twice.
   * Throws `NO_HEALTHY_CONNECTION` when no candidate is left, `TIMEOUT` at the deadline.
   */
  async dispatch<T>(op: ConnectionOperation<C, T>, options: DispatchOptions = {}): Promise<T> {
    const deadline = this.#deadline(options);
    const excluded = new Set<string>();
    let lastError: unknown;
    try {
      for (let attempt = 0; ; attempt++) {
        deadline.signal.throwIfAborted();
        const picked = this.#pick(excluded, attempt, options.key);
        if (!picked) {
          throw new XiaozhiError(
            "NO_HEALTHY_CONNECTION",
            excluded.size
              ? `no healthy connection left after ${excluded.size} failed`
              : "no healthy connection",
            { cause: lastError },
          );
        }
        const started = this.context.now();
        picked.inflight++;
        try {
          const value = await raceAbort(op(picked.connection, deadline.signal), deadline.signal);
          this.context.health?.observe(picked.id, {
            kind: "success",
            at: this.context.now(),
            ms: this.context.now() - started,
          });
          return value;
        } catch (error) {
          this.context.health?.observe(picked.id, {
            kind: "failure",
            at: this.context.now(),
            reason: describeError(error),
          });
          if (!neverReached(error)) throw error;
          lastError = error;
          excluded.add(picked.id);
        } finally {
          picked.inflight--;
        }
      }
    } finally {
      deadline.dispose();
    }
  }

  /** Runs `op` on every connected endpoint at once and reports each outcome; never throws. */
  async broadcast<T>(
    op: ConnectionOperation<C, T>,
    options: Omit<DispatchOptions, "key"> = {},
  ): Promise<BroadcastResult<T>[]> {
    const deadline = this.#deadline(options);
    try {
      return await Promise.all(
        this.#getPool().connected.map(async (candidate): Promise<BroadcastResult<T>> => {
          const base = { id: candidate.id, url: candidate.supervisor.endpoint.masked };
          try {
            const value = await raceAbort(op(candidate.connection, deadline.signal), deadline.signal);
            return { ...base, ok: true, value };
          } catch (error) {
            return { ...base, ok: false, error };
          }
        }),
      );
    } finally {
      deadline.dispose();
    }
  }

  #getPool() {
    if (this.#pool) return this.#pool;
    const connected: SupervisedCandidate<C>[] = [];
    const healthy: SupervisedCandidate<C>[] = [];
    for (const candidate of this.context.candidates()) {
      if (candidate.supervisor.state !== "connected") continue;
      connected.push(candidate);
      if (!candidate.ejected) healthy.push(candidate);
    }
    this.#pool = { connected, healthy };
    return this.#pool;
  }

  /**
   * Panic mode: when too few connected candidates are healthy, ejection is ignored and every
   * connected one may be picked, so an over-eager scorer cannot take the whole pool down.
   */
  #pick(
    excluded: ReadonlySet<string>,
    attempt: number,
    key: string | undefined,
  ): SupervisedCandidate<C> | undefined {
    const pool = this.#getPool();
    const panic =
      pool.healthy.length < pool.connected.length &&
      (pool.healthy.length === 0 ||
        pool.healthy.length < this.context.settings().panicThreshold * pool.connected.length);
    let list = panic ? pool.connected : pool.healthy;
    if (excluded.size > 0) list = list.filter((c) => !excluded.has(c.id));
    if (list.length === 0) return undefined;
    const context = { attempt, panic, random: this.context.random, ...(key === undefined ? {} : { key }) };
    const picked = this.#select(list, context);
    // A third-party strategy may return nothing or something it was not given: never trust it blindly.
    const valid =
      picked instanceof SupervisedCandidate &&
      picked.supervisor.state === "connected" &&
      !excluded.has(picked.id) &&
      (panic || !picked.ejected);
    if (valid) return picked;
    // `null` is read as `undefined`: nothing picked.
    if (picked !== undefined && picked !== null) this.#misbehaved("returned a candidate it was not given");
    return list[0];
  }

  /**
   * The strategy's pick. One that throws or answers with a promise picks nothing (the first
   * candidate serves), and the log says so: a faulty plug-in must not fail calls or, through a
   * promise that rejects later, the process.
   */
  #select(list: SupervisedCandidate<C>[], context: SelectContext): unknown {
    let picked: unknown;
    try {
      picked = this.context.strategy().select(list, context);
    } catch (error) {
      this.#misbehaved("threw", error);
      return undefined;
    }
    if (typeof (picked as PromiseLike<unknown> | undefined)?.then !== "function") return picked;
    Promise.resolve(picked).catch(() => {});
    this.#misbehaved("answered with a promise; select must return a candidate");
    return undefined;
  }

  #misbehaved(what: string, error?: unknown): void {
    const strategy = this.context.strategy();
    const said = this.#said.get(strategy) ?? new Set<string>();
    this.#said.set(strategy, said);
    if (said.has(what)) return;
    said.add(what);
    this.context.logger.error(
      { strategy: strategy.name, ...(error === undefined ? {} : { err: redact(describeError(error)) }) },
      `strategy "${strategy.name}" ${what}: the first candidate is used instead (said once)`,
    );
  }

  #deadline(options: Omit<DispatchOptions, "key">) {
    const timeout = options.timeout ?? this.context.settings().dispatchTimeout;
    const outer = options.signal;
    // No deadline of its own: the caller's signal is the dispatch's, with no controller, timer or
    // listener of ours (a call through a service asks for none, and this ran for every call).
    if (timeout >= noDispatchDeadline && outer) return { signal: outer, dispose: () => {} };
    const controller = new AbortController();
    const after = Math.min(timeout, noDispatchDeadline);
    const timer = setTimeout(
      () => controller.abort(new XiaozhiError("TIMEOUT", `operation timed out after ${after} ms`)),
      after,
    );
    const onAbort = () => controller.abort(outer?.reason ?? new XiaozhiError("ABORTED", "operation aborted"));
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    return {
      signal: controller.signal,
      dispose: () => {
        clearTimeout(timer);
        outer?.removeEventListener("abort", onAbort);
      },
    };
  }
}
