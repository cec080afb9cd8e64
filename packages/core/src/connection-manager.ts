import { raceAbort } from "./abort.js";
import { type BackoffOptions, backoffDelay, defaultBackoff } from "./backoff.js";
import type { CloseInfo, Connection, ConnectionFactory, ConnectionState } from "./connection.js";
import { Emitter } from "./emitter.js";
import {
  connectionShapeChanged,
  type EndpointInput,
  type ResolvedEndpoint,
  resolveEndpoint,
} from "./endpoint.js";
import { ConnectError, describeError, neverReached } from "./errors.js";
import type { HealthReport, HealthScorer } from "./health.js";
import { type Logger, silentLogger } from "./logger.js";
import { endpointId, redact } from "./mask.js";
import { type Candidate, roundRobin, type Strategy } from "./strategy.js";
import type { ToolSource } from "./tool-source.js";
import { ToolSourceSwitch } from "./tool-source-switch.js";
import { toolSubset } from "./tool-subset.js";

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
}

export interface ConnectionManagerOptions<C extends Connection = Connection>
  extends Partial<Omit<ManagerSettings, "backoff">> {
  readonly connectionFactory: ConnectionFactory<C>;
  /** Picks the connection for `dispatch`; default round-robin. */
  readonly strategy?: Strategy;
  /** Scores connections and ejects outliers; without one, every connected link scores 100. */
  readonly healthScorer?: HealthScorer;
  readonly logger?: Logger;
  readonly backoff?: Partial<BackoffOptions>;
  /** Clock; default Date.now. */
  readonly now?: () => number;
  /** Uniform random in [0, 1) for jitter and strategies; default Math.random. */
  readonly random?: () => number;
}

/** An immutable snapshot of one endpoint. Safe to serialise: the URL is masked. */
export interface EndpointStatus {
  readonly id: string;
  /** Masked URL. */
  readonly url: string;
  readonly state: ConnectionState;
  readonly connected: boolean;
  /** The far side completed MCP `initialize` on the current link. */
  readonly initialized: boolean;
  /** Epoch ms of the last successful connect. */
  readonly lastConnected?: number;
  readonly lastError?: string;
  /** Attempts since the link was last stable for `minUptime`. */
  readonly reconnectAttempts: number;
  /** Epoch ms of the scheduled reconnect, while `reconnecting`. */
  readonly nextReconnectAt?: number;
  readonly healthScore: number;
  readonly health?: HealthReport;
  readonly rttMs?: number;
  readonly lastFrameAt?: number;
  readonly weight: number;
  readonly inflight: number;
}

/** Common fields of every manager event. */
export interface EndpointEvent {
  readonly id: string;
  /** Masked URL. */
  readonly url: string;
  readonly at: number;
}

/** Events of a ConnectionManager, past tense as they report what happened. */
export interface ManagerEventMap {
  added: EndpointEvent;
  removed: EndpointEvent;
  stateChanged: EndpointEvent & { readonly from: ConnectionState; readonly to: ConnectionState };
  connecting: EndpointEvent & { readonly attempt: number };
  connected: EndpointEvent;
  initialized: EndpointEvent;
  connectFailed: EndpointEvent & { readonly reason: string; readonly retryable: boolean };
  disconnected: EndpointEvent & { readonly code: number; readonly reason: string };
  reconnectScheduled: EndpointEvent & {
    readonly attempt: number;
    readonly delayMs: number;
    readonly nextReconnectAt: number;
  };
  failed: EndpointEvent & { readonly reason: string };
}

export interface DispatchOptions {
  /** Deadline for the whole dispatch including failovers; default `dispatchTimeout`. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
  /** Affinity key passed to the strategy. */
  readonly key?: string;
}

export type BroadcastResult<T> =
  | { readonly id: string; readonly url: string; readonly ok: true; readonly value: T }
  | { readonly id: string; readonly url: string; readonly ok: false; readonly error: unknown };

export interface ReconcileResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
}

/** An operation run on one connection; `signal` aborts at the dispatch deadline. */
export type ConnectionOperation<C, T> = (connection: C, signal: AbortSignal) => Promise<T>;

class EntryCandidate<C extends Connection> implements Candidate<C> {
  inflight = 0;
  constructor(
    readonly entry: Entry<C>,
    private readonly health: HealthScorer | undefined,
  ) {}
  get id() {
    return this.entry.endpoint.id;
  }
  get connection() {
    return this.entry.connection;
  }
  get weight() {
    return this.entry.endpoint.weight;
  }
  get healthScore() {
    return this.health ? this.health.score(this.entry.endpoint.id) : 100;
  }
  get ejected() {
    return this.health?.isEjected(this.entry.endpoint.id) ?? false;
  }
}

interface Entry<C extends Connection> {
  endpoint: ResolvedEndpoint;
  readonly connection: C;
  readonly candidate: EntryCandidate<C>;
  state: ConnectionState;
  attempts: number;
  connectedAt?: number;
  lastConnected?: number;
  lastError?: string;
  nextReconnectAt?: number;
  timer?: ReturnType<typeof setTimeout>;
  pending?: Promise<void>;
  abort?: AbortController;
  /** Set while we close the link ourselves, so its `closed` event is not taken for a drop. */
  closing: boolean;
  removed: boolean;
  unsubscribe: () => void;
}

/**
 * Keeps many endpoint connections alive at once: connects them concurrently, notices drops from
 * each connection's own events, reconnects with jittered backoff, applies endpoint lists as diffs,
 * and dispatches operations to a healthy connection with failover. The seed's
 * XiaozhiConnectionManager, generic over the Connection type.
 */
export class ConnectionManager<C extends Connection = Connection> {
  readonly #factory: ConnectionFactory<C>;
  readonly #health: HealthScorer | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #events: Emitter<ManagerEventMap>;
  readonly #entries = new Map<string, Entry<C>>();
  readonly #tools = new ToolSourceSwitch();
  #strategy: Strategy;
  #settings: ManagerSettings;
  #pool: { healthy: EntryCandidate<C>[]; connected: EntryCandidate<C>[] } | undefined;
  #running = false;
  #initialized = false;
  #unsubscribeHealth: (() => void) | undefined;

  constructor(options: ConnectionManagerOptions<C>) {
    this.#factory = options.connectionFactory;
    this.#health = options.healthScorer;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#strategy = options.strategy ?? roundRobin();
    this.#settings = mergeSettings(defaultManagerSettings, options);
    this.#events = new Emitter((error) =>
      this.#logger.error({ err: redact(describeError(error)) }, "manager event listener threw"),
    );
  }

  /** Current settings (a frozen copy). */
  get settings(): ManagerSettings {
    return this.#settings;
  }

  get strategy(): Strategy {
    return this.#strategy;
  }

  /** The tool source connections serve (a stable switch in front of the one set). */
  get tools(): ToolSource {
    return this.#tools;
  }

  get isInitialized(): boolean {
    return this.#initialized;
  }

  /** True between `connect()` and `disconnect()`/`cleanup()`: endpoints added now connect at once. */
  get isRunning(): boolean {
    return this.#running;
  }

  /** Subscribe to a manager event; returns the unsubscribe function. */
  on<K extends keyof ManagerEventMap>(event: K, listener: (payload: ManagerEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Listeners the manager holds, on itself and on its connections and tool source; for leak checks. */
  listenerCount(): number {
    return this.#events.listenerCount() + this.#tools.listenerCount;
  }

  /** Changes timings or the strategy at run time; connections and their sockets are untouched. */
  configure(options: Partial<Omit<ConnectionManagerOptions<C>, "connectionFactory" | "healthScorer">>): void {
    if (options.strategy) this.#strategy = options.strategy;
    this.#settings = mergeSettings(this.#settings, options);
  }

  /**
   * Sets the endpoint list and the tool source without connecting. Every input is validated
   * first; an invalid one throws `INVALID_ENDPOINT` and nothing changes. Calling it again applies
   * the new list as a diff.
   */
  async initialize(endpoints: readonly EndpointInput[], tools?: ToolSource): Promise<ReconcileResult> {
    if (tools) this.setToolSource(tools);
    const result = await this.reconcile(endpoints);
    this.#initialized = true;
    return result;
  }

  /**
   * Connects every endpoint that is not connected, all at once. Resolves when each first attempt
   * has settled; a failing endpoint never delays or fails another (its retries go on in the
   * background).
   */
  async connect(): Promise<void> {
    this.#running = true;
    const pending: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.state === "connected") continue;
      if (entry.state === "failed") entry.attempts = 0;
      pending.push(this.#startAttempt(entry));
    }
    await Promise.allSettled(pending);
  }

  /** Closes every link with 1000 and stops reconnecting; `connect()` starts them again. */
  async disconnect(): Promise<void> {
    this.#running = false;
    await Promise.allSettled(
      [...this.#entries.values()].map((e) => this.#close(e, 1000, "disconnect", "disconnected")),
    );
  }

  /**
   * Adds an endpoint; when the manager is running, connects it and resolves after that first
   * attempt settles. Throws `DUPLICATE_ENDPOINT` or `INVALID_ENDPOINT`.
   */
  async addEndpoint(input: EndpointInput): Promise<EndpointStatus> {
    const endpoint = resolveEndpoint(input);
    if (this.#entries.has(endpoint.id)) {
      throw new ConnectError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.masked} is already configured`);
    }
    const entry = this.#createEntry(endpoint);
    this.#emit("added", entry, {});
    if (this.#running) await this.#startAttempt(entry);
    return this.#snapshot(entry);
  }

  /**
   * Removes an endpoint by id or URL: cancels its retries, closes its link with 1000 and forgets
   * it. Resolves false when it was not configured.
   */
  async removeEndpoint(idOrUrl: string): Promise<boolean> {
    const entry = this.#find(idOrUrl);
    if (!entry) return false;
    entry.removed = true;
    this.#entries.delete(entry.endpoint.id);
    this.#invalidate();
    await this.#close(entry, 1000, "endpoint removed", "stopped");
    entry.unsubscribe();
    this.#health?.remove(entry.endpoint.id);
    this.#emit("removed", entry, {});
    return true;
  }

  /**
   * Applies a new endpoint list as a diff: endpoints not listed are removed, new ones added,
   * ones whose tool subset changed are replaced, and unchanged ones keep their connection object
   * and socket (a weight change is applied in place). Validates everything before changing anything.
   */
  async reconcile(desired: readonly EndpointInput[]): Promise<ReconcileResult> {
    const next = new Map<string, ResolvedEndpoint>();
    for (const input of desired) {
      const endpoint = resolveEndpoint(input);
      if (next.has(endpoint.id)) {
        this.#logger.warn({ endpoint: endpoint.masked }, "duplicate endpoint ignored");
        continue;
      }
      next.set(endpoint.id, endpoint);
    }
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    const unchanged: string[] = [];
    for (const [id, entry] of this.#entries) {
      const wanted = next.get(id);
      if (!wanted) removed.push(id);
      else if (connectionShapeChanged(entry.endpoint, wanted)) changed.push(id);
      else {
        unchanged.push(id);
        if (wanted.weight !== entry.endpoint.weight) {
          entry.endpoint = wanted;
          // A new candidates array, so strategies' per-array caches see the new weight at once.
          this.#invalidate();
        }
      }
    }
    for (const id of next.keys()) if (!this.#entries.has(id)) added.push(id);
    await Promise.allSettled([...removed, ...changed].map((id) => this.removeEndpoint(id)));
    await Promise.allSettled(
      [...changed, ...added].map((id) => this.addEndpoint(next.get(id) as ResolvedEndpoint)),
    );
    return { added, removed, changed, unchanged };
  }

  /**
   * Reconnects one endpoint now: resets its attempt counter (also after `failed`) and, when it is
   * connected, closes the link with 1000 first. Throws `UNKNOWN_ENDPOINT`.
   */
  async reconnect(idOrUrl: string): Promise<EndpointStatus> {
    const entry = this.#find(idOrUrl);
    if (!entry) throw new ConnectError("UNKNOWN_ENDPOINT", `no endpoint ${redact(idOrUrl)}`);
    this.#running = true;
    entry.attempts = 0;
    if (entry.pending) await entry.pending;
    else {
      if (entry.state === "connected") await this.#close(entry, 1000, "reconnect requested", "disconnected");
      await this.#startAttempt(entry);
    }
    return this.#snapshot(entry);
  }

  /** Connections that are connected and not ejected by the health scorer. */
  getHealthyConnections(): C[] {
    return this.#getPool().healthy.map((c) => c.connection);
  }

  /** One immutable snapshot per endpoint, in insertion order. */
  getConnectionStatus(): EndpointStatus[] {
    return [...this.#entries.values()].map((entry) => this.#snapshot(entry));
  }

  /** The snapshot of one endpoint by id or URL. */
  getEndpointStatus(idOrUrl: string): EndpointStatus | undefined {
    const entry = this.#find(idOrUrl);
    return entry && this.#snapshot(entry);
  }

  /** Every endpoint's connection object, whatever its state, in insertion order. */
  getConnections(): C[] {
    return [...this.#entries.values()].map((entry) => entry.connection);
  }

  /** The connection object of one endpoint by id or URL. */
  getConnection(idOrUrl: string): C | undefined {
    return this.#find(idOrUrl)?.connection;
  }

  isAnyConnected(): boolean {
    for (const entry of this.#entries.values()) if (entry.state === "connected") return true;
    return false;
  }

  /** Sets where the endpoints' tools come from; every connection hears of the change. */
  setToolSource(source: ToolSource): void {
    this.#tools.set(source);
  }

  /** The seed's name for {@link setToolSource}. */
  setServiceManager(source: ToolSource): void {
    this.setToolSource(source);
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
          throw new ConnectError(
            "NO_HEALTHY_CONNECTION",
            excluded.size
              ? `no healthy connection left after ${excluded.size} failed`
              : "no healthy connection",
            { cause: lastError },
          );
        }
        const started = this.#now();
        picked.inflight++;
        try {
          const value = await raceAbort(op(picked.connection, deadline.signal), deadline.signal);
          this.#observe(picked.id, { kind: "success", at: this.#now(), ms: this.#now() - started });
          return value;
        } catch (error) {
          this.#observe(picked.id, { kind: "failure", at: this.#now(), reason: describeError(error) });
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
    const targets = [...this.#entries.values()].filter((e) => e.state === "connected");
    try {
      return await Promise.all(
        targets.map(async (entry): Promise<BroadcastResult<T>> => {
          const base = { id: entry.endpoint.id, url: entry.endpoint.masked };
          try {
            return {
              ...base,
              ok: true,
              value: await raceAbort(op(entry.connection, deadline.signal), deadline.signal),
            };
          } catch (error) {
            return { ...base, ok: false, error };
          }
        }),
      );
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Closes every link with 1000, cancels every timer and retry, drops every listener it holds
   * (its own subscribers included) and returns to the uninitialised state.
   */
  async cleanup(): Promise<void> {
    this.#running = false;
    await Promise.allSettled([...this.#entries.keys()].map((id) => this.removeEndpoint(id)));
    this.#tools.detach();
    this.#unsubscribeHealth?.();
    this.#unsubscribeHealth = undefined;
    this.#events.removeAllListeners();
    this.#initialized = false;
  }

  #createEntry(endpoint: ResolvedEndpoint): Entry<C> {
    const tools = toolSubset(this.#tools, endpoint);
    const connection = this.#factory(endpoint, { tools, logger: this.#logger });
    const entry = {
      endpoint,
      connection,
      state: "disconnected",
      attempts: 0,
      closing: false,
      removed: false,
      unsubscribe: () => {},
    } as Omit<Entry<C>, "candidate"> as Entry<C>;
    (entry as { candidate: EntryCandidate<C> }).candidate = new EntryCandidate(entry, this.#health);
    const id = endpoint.id;
    const subscriptions = [
      connection.on("closed", (info) => this.#onClosed(entry, info)),
      connection.on("initialized", () => this.#emit("initialized", entry, {})),
      connection.on("error", ({ error }) =>
        this.#logger.debug(
          { endpoint: entry.endpoint.masked, err: redact(describeError(error)) },
          "connection error",
        ),
      ),
    ];
    if (this.#health) {
      const health = this.#health;
      subscriptions.push(
        connection.on("rtt", ({ ms, at }) => health.observe(id, { kind: "rtt", ms, at })),
        connection.on("frame", ({ at }) => health.observe(id, { kind: "frame", at })),
      );
      this.#unsubscribeHealth ??= health.onEjectionChanged(() => this.#invalidate());
    }
    entry.unsubscribe = () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    };
    this.#entries.set(id, entry);
    this.#invalidate();
    return entry;
  }

  #startAttempt(entry: Entry<C>): Promise<void> {
    if (entry.pending) return entry.pending;
    this.#clearTimer(entry);
    const pending = this.#attempt(entry).finally(() => {
      entry.pending = undefined;
    });
    entry.pending = pending;
    return pending;
  }

  async #attempt(entry: Entry<C>): Promise<void> {
    const controller = new AbortController();
    const timeout = this.#settings.connectTimeout;
    const timer = setTimeout(
      () => controller.abort(new ConnectError("CONNECT_TIMEOUT", `not connected within ${timeout} ms`)),
      timeout,
    );
    entry.abort = controller;
    entry.closing = false;
    this.#setState(entry, "connecting");
    this.#emit("connecting", entry, { attempt: entry.attempts });
    let failure: unknown;
    let connected = false;
    try {
      await entry.connection.connect(controller.signal);
      connected = true;
    } catch (error) {
      failure = ConnectError.isInstance(controller.signal.reason) ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      entry.abort = undefined;
    }
    // Removed or stopped while connecting: the attempt is abandoned, not failed.
    if (entry.removed || !this.#running || entry.closing) {
      if (connected)
        await this.#closeConnection(entry, 1000, entry.removed ? "endpoint removed" : "disconnect");
      return;
    }
    if (connected) this.#onConnected(entry);
    else this.#onConnectFailed(entry, failure);
  }

  #onConnected(entry: Entry<C>): void {
    const at = this.#now();
    entry.connectedAt = at;
    entry.lastConnected = at;
    this.#observe(entry.endpoint.id, { kind: "connected", at });
    this.#setState(entry, "connected");
    this.#emit("connected", entry, {});
    this.#logger.info({ endpoint: entry.endpoint.masked, id: entry.endpoint.id }, "endpoint connected");
  }

  #onConnectFailed(entry: Entry<C>, error: unknown): void {
    const reason = redact(describeError(error));
    const retryable = ConnectError.isInstance(error) ? error.retryable : true;
    entry.lastError = reason;
    this.#observe(entry.endpoint.id, { kind: "connectFailed", at: this.#now(), reason });
    this.#emit("connectFailed", entry, { reason, retryable });
    this.#logger.warn({ endpoint: entry.endpoint.masked, reason, retryable }, "endpoint connect failed");
    this.#setState(entry, "disconnected");
    this.#scheduleReconnect(entry, retryable, reason);
  }

  #onClosed(entry: Entry<C>, info: CloseInfo): void {
    if (entry.closing || entry.removed || entry.state !== "connected") return;
    const uptime = this.#now() - (entry.connectedAt ?? 0);
    if (uptime >= this.#settings.minUptime) entry.attempts = 0;
    entry.connectedAt = undefined;
    const reason = redact(`closed ${info.code}${info.reason ? ` ${info.reason}` : ""}`);
    entry.lastError = reason;
    this.#observe(entry.endpoint.id, {
      kind: "closed",
      at: info.at,
      code: info.code,
      retryable: info.retryable,
    });
    this.#setState(entry, "disconnected");
    this.#emit("disconnected", entry, { code: info.code, reason: redact(info.reason) });
    this.#logger.warn(
      { endpoint: entry.endpoint.masked, code: info.code, reason: redact(info.reason) },
      "endpoint dropped",
    );
    if (this.#running) this.#scheduleReconnect(entry, info.retryable, reason);
  }

  #scheduleReconnect(entry: Entry<C>, retryable: boolean, reason: string): void {
    const { autoReconnect, maxReconnectAttempts, backoff } = this.#settings;
    if (!retryable) {
      this.#fail(entry, reason);
      return;
    }
    if (!autoReconnect) return;
    if (entry.attempts >= maxReconnectAttempts) {
      this.#fail(entry, `gave up after ${entry.attempts} reconnect attempts: ${reason}`);
      return;
    }
    const delayMs = backoffDelay(entry.attempts, backoff, this.#random);
    entry.attempts++;
    const nextReconnectAt = this.#now() + delayMs;
    entry.nextReconnectAt = nextReconnectAt;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.#startAttempt(entry);
    }, delayMs);
    this.#setState(entry, "reconnecting");
    this.#emit("reconnectScheduled", entry, { attempt: entry.attempts, delayMs, nextReconnectAt });
  }

  #fail(entry: Entry<C>, reason: string): void {
    entry.lastError = reason;
    this.#setState(entry, "failed");
    this.#emit("failed", entry, { reason });
    this.#logger.error({ endpoint: entry.endpoint.masked, reason }, "endpoint failed; not retrying");
  }

  /** Stops an entry's retries and closes its link; `closing` keeps its close from counting as a drop. */
  async #close(entry: Entry<C>, code: number, reason: string, finalState: ConnectionState): Promise<void> {
    entry.closing = true;
    this.#clearTimer(entry);
    entry.abort?.abort(new ConnectError("ABORTED", reason));
    await entry.pending;
    await this.#closeConnection(entry, code, reason);
    entry.connectedAt = undefined;
    this.#setState(entry, finalState);
  }

  async #closeConnection(entry: Entry<C>, code: number, reason: string): Promise<void> {
    entry.closing = true;
    try {
      await entry.connection.close(code, reason);
    } catch (error) {
      this.#logger.debug(
        { endpoint: entry.endpoint.masked, err: redact(describeError(error)) },
        "close failed",
      );
    }
  }

  #clearTimer(entry: Entry<C>): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.nextReconnectAt = undefined;
  }

  #setState(entry: Entry<C>, to: ConnectionState): void {
    const from = entry.state;
    if (from === to) return;
    entry.state = to;
    if (from === "connected" || to === "connected") this.#invalidate();
    this.#emit("stateChanged", entry, { from, to });
  }

  #emit<K extends keyof ManagerEventMap>(
    event: K,
    entry: Entry<C>,
    extra: Omit<ManagerEventMap[K], keyof EndpointEvent>,
  ): void {
    const payload = { id: entry.endpoint.id, url: entry.endpoint.masked, at: this.#now(), ...extra };
    this.#events.emit(event, payload as unknown as ManagerEventMap[K]);
  }

  #observe(id: string, observation: Parameters<HealthScorer["observe"]>[1]): void {
    this.#health?.observe(id, observation);
  }

  #find(idOrUrl: string): Entry<C> | undefined {
    return this.#entries.get(idOrUrl) ?? this.#entries.get(endpointId(idOrUrl));
  }

  #invalidate(): void {
    this.#pool = undefined;
  }

  #getPool() {
    if (this.#pool) return this.#pool;
    const connected: EntryCandidate<C>[] = [];
    const healthy: EntryCandidate<C>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.state !== "connected") continue;
      connected.push(entry.candidate);
      if (!entry.candidate.ejected) healthy.push(entry.candidate);
    }
    this.#pool = { connected, healthy };
    return this.#pool;
  }

  #pick(
    excluded: ReadonlySet<string>,
    attempt: number,
    key: string | undefined,
  ): EntryCandidate<C> | undefined {
    const pool = this.#getPool();
    const panic =
      pool.healthy.length < pool.connected.length &&
      (pool.healthy.length === 0 ||
        pool.healthy.length < this.#settings.panicThreshold * pool.connected.length);
    let list = panic ? pool.connected : pool.healthy;
    if (excluded.size > 0) list = list.filter((c) => !excluded.has(c.id));
    if (list.length === 0) return undefined;
    const context = { attempt, panic, random: this.#random, ...(key === undefined ? {} : { key }) };
    const picked = this.#strategy.select(list, context) as EntryCandidate<C> | undefined;
    // A third-party strategy may return something it was not given; never trust it blindly.
    return picked && picked.entry?.state === "connected" && !excluded.has(picked.id) ? picked : list[0];
  }

  #deadline(options: Omit<DispatchOptions, "key">) {
    const timeout = options.timeout ?? this.#settings.dispatchTimeout;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new ConnectError("TIMEOUT", `operation timed out after ${timeout} ms`)),
      timeout,
    );
    const outer = options.signal;
    const onAbort = () => controller.abort(outer?.reason ?? new ConnectError("ABORTED", "operation aborted"));
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

  #snapshot(entry: Entry<C>): EndpointStatus {
    const { endpoint, connection } = entry;
    const connected = entry.state === "connected";
    const attempts =
      connected && this.#now() - (entry.connectedAt ?? 0) >= this.#settings.minUptime ? 0 : entry.attempts;
    const status: EndpointStatus = {
      id: endpoint.id,
      url: endpoint.masked,
      state: entry.state,
      connected,
      initialized: connected && connection.initialized === true,
      lastConnected: entry.lastConnected,
      lastError: entry.lastError,
      reconnectAttempts: attempts,
      nextReconnectAt: entry.nextReconnectAt,
      healthScore: this.#health ? this.#health.score(endpoint.id) : connected ? 100 : 0,
      health: this.#health?.report(endpoint.id),
      rttMs: connected ? connection.rttMs : undefined,
      lastFrameAt: connected ? connection.lastFrameAt : undefined,
      weight: endpoint.weight,
      inflight: entry.candidate.inflight,
    };
    return Object.freeze(status);
  }
}

/** What a manager uses for every setting it is not given. */
export const defaultManagerSettings: ManagerSettings = Object.freeze({
  autoReconnect: true,
  backoff: defaultBackoff,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
  minUptime: 10_000,
  connectTimeout: 10_000,
  dispatchTimeout: 30_000,
  panicThreshold: 0.5,
});

function mergeSettings(
  base: ManagerSettings,
  options: Partial<Omit<ManagerSettings, "backoff">> & { backoff?: Partial<BackoffOptions> },
): ManagerSettings {
  const pick = <K extends keyof ManagerSettings>(key: K): ManagerSettings[K] =>
    (options[key as keyof typeof options] as ManagerSettings[K] | undefined) ?? base[key];
  return Object.freeze({
    autoReconnect: pick("autoReconnect"),
    maxReconnectAttempts: pick("maxReconnectAttempts"),
    minUptime: pick("minUptime"),
    connectTimeout: pick("connectTimeout"),
    dispatchTimeout: pick("dispatchTimeout"),
    panicThreshold: pick("panicThreshold"),
    backoff: Object.freeze({ ...base.backoff, ...options.backoff }),
  });
}
