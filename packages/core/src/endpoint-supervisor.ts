import { retryDelay } from "./backoff.js";
import { noop } from "./connect-gate.js";
import type {
  CloseInfo,
  Connection,
  ConnectionEventMap,
  ConnectionState,
  RepublishCause,
} from "./connection.js";
import { observeEvents } from "./emitter.js";
import type { ResolvedEndpoint } from "./endpoint.js";
import { describeError, XiaozhiError } from "./errors.js";
import type { HealthObservation } from "./health.js";
import { nothingAnswered } from "./host-recovery.js";
import { redact } from "./mask.js";
import type { SupervisorContext, SupervisorReports } from "./supervisor-context.js";

const none: Record<string, never> = Object.freeze({});
const observed = ["closed", "initialized", "rtt", "handled", "error", "frame", "opened"] as const;

/**
 * One endpoint's life: connect with a deadline, notice the drop, wait a jittered backoff, try
 * again, reset the attempt count once a link stayed up `minUptime`, and stop as `failed` when
 * retrying soon cannot help (a rejected token is tried again every `authRetryInterval`). It keeps
 * the link up while it is wanted (`start()` until `stop()`).
 *
 * Two rules keep it simple: a close counts as a drop only while the state is `connected` (every
 * close the supervisor makes itself changes the state first), and at most one attempt runs at a
 * time (`start()` during an attempt joins it).
 */
export class EndpointSupervisor<C extends Connection> {
  /**
   * Takes a connection's events for its supervisor: one object per endpoint instead of a listener
   * and an unsubscribe function per event.
   */
  static readonly #Observer = class {
    constructor(readonly supervisor: EndpointSupervisor<Connection>) {}
    closed(info: CloseInfo): void {
      this.supervisor.#onClosed(info);
    }
    initialized(): void {
      this.supervisor.#report("initialized", none);
    }
    rtt({ ms, at }: ConnectionEventMap["rtt"]): void {
      const supervisor = this.supervisor;
      const health = supervisor.context.health;
      health?.observe(supervisor.id, { kind: "rtt", ms, at });
      // The score goes with it, as the status would show it: a chart of round trips shows both,
      // and the heartbeat of thousands of links must not build a status each to read one number.
      const healthScore = health ? health.score(supervisor.id) : supervisor.state === "connected" ? 100 : 0;
      supervisor.#report("rtt", { ms, healthScore });
    }
    handled({ at, ...handled }: ConnectionEventMap["handled"]): void {
      const supervisor = this.supervisor;
      // The link carried a request and its answer: a sign of life. A tool's own error is the tool's.
      supervisor.context.health?.observe(supervisor.id, { kind: "success", at, ms: handled.ms });
      supervisor.#report("handled", handled);
    }
    error({ error }: ConnectionEventMap["error"]): void {
      const s = this.supervisor;
      s.context.logger.debug({ ...s.#who, err: redact(describeError(error)) }, "connection error");
    }
    frame({ at }: ConnectionEventMap["frame"]): void {
      this.supervisor.context.health?.observe(this.supervisor.id, { kind: "frame", at });
    }
    opened(): void {
      this.supervisor.#letGo();
    }
  };

  #state: ConnectionState = "disconnected";
  #wanted = false;
  #attempts = 0;
  #connectedAt: number | undefined;
  #lastConnected: number | undefined;
  #lastError: string | undefined;
  #lastErrorAt: number | undefined;
  #hostSilent = false;
  #nextReconnectAt: number | undefined;
  /** From a republish close until the next link is up (or the attempt fails). */
  #republishing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by each retry scheduled or attempt started: a retry waiting its turn from before is void. */
  #turn = 0;
  /** Frees the attempt's place among those under way once its link is open (see `ConnectGate`). */
  #letGo: () => void = noop;
  #attempt: Promise<void> | undefined;
  #abort: AbortController | undefined;
  readonly #unsubscribe: () => void;

  constructor(
    public endpoint: ResolvedEndpoint,
    readonly connection: C,
    private readonly context: SupervisorContext,
  ) {
    const observer = new EndpointSupervisor.#Observer(this);
    this.#unsubscribe = observeEvents<ConnectionEventMap>(connection, observer, observed);
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get id(): string {
    return this.endpoint.id;
  }
  /** Attempts since the link was last stable for `minUptime`. */
  get attempts(): number {
    const connectedFor = this.#connectedAt === undefined ? 0 : this.context.now() - this.#connectedAt;
    return this.#state === "connected" && connectedFor >= this.context.settings().minUptime
      ? 0
      : this.#attempts;
  }
  get lastConnected(): number | undefined {
    return this.#lastConnected;
  }
  get lastError(): string | undefined {
    return this.#lastError;
  }
  /** Epoch ms when `lastError` happened. */
  get lastErrorAt(): number | undefined {
    return this.#lastErrorAt;
  }
  /** Whether the last failure was an attempt that found nothing answering at the host. */
  get hostSilent(): boolean {
    return this.#hostSilent;
  }
  /** When the retry timer fires; none while a retry whose time came waits its turn. */
  get nextReconnectAt(): number | undefined {
    return this.#nextReconnectAt;
  }
  /** True while the link is being reopened so its agent lists the changed tools. */
  get republishing(): boolean {
    return this.#republishing;
  }

  /**
   * Wants the link up: connects now unless connected or an attempt runs (then joins it). After
   * `failed`, starts counting attempts afresh. Resolves when this attempt has settled; `opened`
   * is called once its link is open (or it settled), whichever is first.
   */
  start(opened?: () => void): Promise<void> {
    this.#wanted = true;
    if (this.#state === "connected") return Promise.resolve();
    if (this.#state === "failed") this.#attempts = 0;
    return this.#startAttempt(opened);
  }

  /** Drops the link now (1000) and connects again, with a fresh attempt count. */
  async reconnect(): Promise<void> {
    this.#wanted = true;
    this.#attempts = 0;
    if (this.#attempt) return this.#attempt;
    if (this.#state === "connected") await this.#closeLink(1000, "reconnect requested", "disconnected");
    return this.#startAttempt();
  }

  /** Brings a retry waiting on its timer forward to `at` (epoch ms); the attempt count stays. */
  hasten(at: number): void {
    if (this.#state !== "reconnecting" || this.#timer === undefined || !this.#wanted) return;
    if (this.#nextReconnectAt === undefined || this.#nextReconnectAt <= at) return;
    const delayMs = Math.max(0, at - this.context.now());
    const nextReconnectAt = this.#schedule(delayMs);
    this.#report("reconnectScheduled", { attempt: this.#attempts, delayMs, nextReconnectAt });
  }

  /**
   * No longer wants the link: cancels a scheduled retry and an attempt under way, closes the link
   * with `code`, and ends in `finalState`.
   */
  async stop(code: number, reason: string, finalState: "disconnected" | "stopped"): Promise<void> {
    this.#wanted = false;
    this.#clearTimer();
    this.#abort?.abort(new XiaozhiError("ABORTED", reason));
    await this.#attempt;
    await this.#closeLink(code, reason, finalState);
  }

  /** Stops for good and drops every subscription on the connection. */
  async dispose(reason: string): Promise<void> {
    await this.stop(1000, reason, "stopped");
    this.#unsubscribe();
  }

  #startAttempt(opened?: () => void): Promise<void> {
    this.#clearTimer();
    if (this.#attempt) return this.#attempt;
    this.#letGo = opened ?? noop;
    this.#attempt = this.#connect().finally(() => {
      this.#attempt = undefined;
      this.#letGo();
      this.#letGo = noop;
    });
    return this.#attempt;
  }

  async #connect(): Promise<void> {
    const controller = new AbortController();
    const timeout = this.context.settings().connectTimeout;
    const timer = setTimeout(
      () => controller.abort(new XiaozhiError("CONNECT_TIMEOUT", `not connected within ${timeout} ms`)),
      timeout,
    );
    this.#abort = controller;
    this.#setState("connecting");
    this.#report("connecting", { attempt: this.#attempts });
    let failure: unknown;
    let connected = false;
    try {
      await this.connection.connect(controller.signal);
      connected = true;
    } catch (error) {
      failure = XiaozhiError.isInstance(controller.signal.reason) ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      this.#abort = undefined;
    }
    if (!this.#wanted) {
      // Stopped while connecting: the attempt is abandoned, not failed.
      if (connected) await this.#closeConnection(1000, "stopped while connecting");
      return;
    }
    if (connected) this.#onConnected();
    else this.#onConnectFailed(failure);
  }

  #onConnected(): void {
    this.#republishing = false;
    const at = this.context.now();
    this.#connectedAt = at;
    this.#lastConnected = at;
    this.#observe({ kind: "connected", at });
    this.#setState("connected");
    this.#report("connected", none);
    this.context.logger.info({ ...this.#who, id: this.endpoint.id }, "endpoint connected");
  }

  #onConnectFailed(error: unknown): void {
    this.#republishing = false;
    this.#hostSilent = nothingAnswered(error);
    const reason = redact(describeError(error));
    const known = XiaozhiError.isInstance(error) ? error : undefined;
    const retryable = known?.retryable ?? true;
    this.#setError(reason);
    this.#observe({ kind: "connectFailed", at: this.context.now(), reason });
    this.#report("connectFailed", { reason, retryable });
    this.context.logger.warn({ ...this.#who, reason, retryable }, "endpoint connect failed");
    this.#setState("disconnected");
    this.#retry(retryable, reason, known?.code === "AUTH_REJECTED", known?.retryAfterMs);
  }

  #onClosed(info: CloseInfo): void {
    // Closes the supervisor makes change the state first; only a link that was up can drop.
    if (this.#state !== "connected") return;
    this.#hostSilent = false;
    const uptime = this.context.now() - (this.#connectedAt ?? 0);
    if (uptime >= this.context.settings().minUptime) this.#attempts = 0;
    this.#connectedAt = undefined;
    if (info.republish !== undefined && this.#wanted) {
      this.#republish(info.republish);
      return;
    }
    const reason = redact(`closed ${info.code}${info.reason ? ` ${info.reason}` : ""}`);
    this.#setError(reason);
    this.#observe({ kind: "closed", at: info.at, code: info.code, retryable: info.retryable });
    this.#setState("disconnected");
    this.#report("disconnected", { code: info.code, reason: redact(info.reason) });
    this.context.logger.warn(
      { ...this.#who, code: info.code, reason: redact(info.reason) },
      "endpoint dropped",
    );
    // The closes not worth a quick retry are the far side's auth and policy ones.
    if (this.#wanted) this.#retry(info.retryable, reason, !info.retryable);
  }

  /**
   * The connection closed its link so the agent lists the changed tools: reopened at once, whatever
   * `autoReconnect` says, with no backoff, no error and nothing the health score counts.
   */
  #republish(cause: RepublishCause): void {
    this.#republishing = true;
    this.#report("republishing", { cause });
    this.context.logger.info({ ...this.#who, cause }, "republishing tools: reconnecting");
    void this.#startAttempt();
  }

  /**
   * Schedules the next attempt on the backoff, or ends as `failed` when retrying soon cannot help:
   * after the far side `rejected` the token, tried again only every `authRetryInterval`. When it
   * `asked` for a wait (`Retry-After`), then, spread by up to a fifth, within `maxDelay`, when longer.
   */
  #retry(retryable: boolean, reason: string, rejected = false, asked?: number): void {
    const { autoReconnect, maxReconnectAttempts, backoff, authRetryInterval } = this.context.settings();
    if (!retryable) {
      const every = rejected && autoReconnect ? authRetryInterval : 0;
      this.#fail(reason, every > 0 ? every * (0.8 + 0.4 * this.context.random()) : undefined);
      return;
    }
    if (!autoReconnect) return;
    if (this.#attempts >= maxReconnectAttempts) {
      this.#fail(`gave up after ${this.#attempts} reconnect attempts: ${reason}`);
      return;
    }
    const delayMs = retryDelay(this.#attempts, backoff, this.context.random, asked);
    this.#attempts++;
    const nextReconnectAt = this.#schedule(delayMs);
    this.#setState("reconnecting");
    this.#report("reconnectScheduled", { attempt: this.#attempts, delayMs, nextReconnectAt });
  }

  /** (Re)sets the one retry timer to fire in `delayMs`; returns when it is due. */
  #schedule(delay: number): number {
    this.#clearTimer();
    // Past 2³¹ − 1 ms a timer fires at once: that is the longest wait there is (24.8 days).
    const delayMs = Math.min(delay, 2 ** 31 - 1);
    this.#nextReconnectAt = this.context.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#clearTimer();
      // In turn with the manager's other attempts: whether it is still due is asked then.
      const turn = this.#turn;
      void this.context.inTurn((opened) => (this.#due(turn) ? this.#startAttempt(opened) : undefined));
    }, delayMs);
    return this.#nextReconnectAt;
  }

  /**
   * A retry whose time came starts if nothing was scheduled or started since, it is still wanted,
   * and it is not a rejected token's try switched off meanwhile (that one stays failed).
   */
  #due(turn: number): boolean {
    const { authRetryInterval: every, autoReconnect } = this.context.settings();
    const off = this.#state === "failed" && (every === 0 || !autoReconnect);
    return turn === this.#turn && this.#wanted && !off;
  }

  /** Ends as `failed`; with `retryInMs`, one more attempt then, whatever the backoff. */
  #fail(reason: string, retryInMs?: number): void {
    // The same rejection again, on a try of its own, is news only at a lower level.
    const again = retryInMs !== undefined && this.#lastError === reason;
    this.#setError(reason);
    // That try starts afresh: a refusal there backs off from the start, not from before.
    if (retryInMs !== undefined) this.#attempts = 0;
    if (retryInMs !== undefined) this.#schedule(retryInMs);
    this.#setState("failed");
    this.#report("failed", { reason });
    const retryInS = retryInMs === undefined ? undefined : Math.round(retryInMs / 1000);
    this.context.logger[again ? "warn" : "error"](
      { ...this.#who, reason, ...(retryInS === undefined ? {} : { retryInS }) },
      retryInS === undefined ? "endpoint failed; not retrying" : "endpoint failed; trying again later",
    );
  }

  async #closeLink(code: number, reason: string, finalState: ConnectionState): Promise<void> {
    this.#connectedAt = undefined;
    this.#setState(finalState);
    await this.#closeConnection(code, reason);
  }

  async #closeConnection(code: number, reason: string): Promise<void> {
    try {
      await this.connection.close(code, reason);
    } catch (error) {
      this.context.logger.debug({ ...this.#who, err: redact(describeError(error)) }, "close failed");
    }
  }

  #setError(reason: string): void {
    this.#lastError = reason;
    this.#lastErrorAt = this.context.now();
  }

  /** How log lines name this endpoint: the masked URL, and the name when it has one. */
  get #who(): { endpoint: string; name?: string } {
    const { masked, name } = this.endpoint;
    return name === undefined ? { endpoint: masked } : { endpoint: masked, name };
  }

  /** Cancels the retry timer, and voids a retry waiting its turn. */
  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextReconnectAt = undefined;
    this.#turn++;
  }

  #setState(to: ConnectionState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#report("stateChanged", { from, to });
  }

  #report<K extends keyof SupervisorReports>(event: K, payload: SupervisorReports[K]): void {
    this.context.report(this as unknown as EndpointSupervisor<Connection>, event, payload);
  }

  #observe(observation: HealthObservation): void {
    this.context.health?.observe(this.endpoint.id, observation);
  }
}
