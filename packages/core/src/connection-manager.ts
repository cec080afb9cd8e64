import { ConnectGate } from "./connect-gate.js";
import type { Connection, ConnectionFactory } from "./connection.js";
import {
  type BroadcastResult,
  type ConnectionOperation,
  Dispatcher,
  type DispatchOptions,
  SupervisedCandidate,
} from "./dispatcher.js";
import { Emitter } from "./emitter.js";
import { type EndpointInput, type ResolvedEndpoint, resolveEndpoint } from "./endpoint.js";
import { diffEndpoints, reorder, statusOf } from "./endpoint-list.js";
import { EndpointSupervisor } from "./endpoint-supervisor.js";
import { describeError, XiaozhiError } from "./errors.js";
import type { HealthScorer } from "./health.js";
import { HostRecovery } from "./host-recovery.js";
import { type Logger, silentLogger } from "./logger.js";
import type {
  EndpointEvent,
  EndpointStatus,
  ListApplied,
  ManagerEventMap,
  ReconcileResult,
} from "./manager-events.js";
import type { ConnectionManagerOptions } from "./manager-options.js";
import { endpointId, redact } from "./mask.js";
import { defaultManagerSettings, factoryOf, type ManagerSettings, reconfigured } from "./settings.js";
import { roundRobin, type Strategy } from "./strategy.js";
import type { SupervisorContext, SupervisorReports } from "./supervisor-context.js";
import type { ToolSource } from "./tool-source.js";
import { ToolSourceSwitch } from "./tool-source-switch.js";

/** A URL as the WHATWG parser reads it (leading controls and blanks, tabs and line breaks inside are
 * dropped): an id such as `ep-…` has no scheme. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls the URL parser drops.
const hasScheme = /^[\u0000-\u0020]*[a-z][a-z\d+.\t\n\r-]*:/i;

interface Member<C extends Connection> {
  readonly supervisor: EndpointSupervisor<C>;
  readonly candidate: SupervisedCandidate<C>;
}

/**
 * Keeps many endpoint connections alive at once: connects them concurrently, applies endpoint lists
 * as diffs, and dispatches operations to a healthy connection with failover (xiaozhi-client's
 * XiaozhiConnectionManager, generic over the Connection). Each endpoint's life is an
 * `EndpointSupervisor`, operations go through a `Dispatcher`; this is the registry keyed by id.
 */
export class ConnectionManager<C extends Connection = Connection> {
  readonly #factory: ConnectionFactory<C>;
  readonly #health: HealthScorer | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #events: Emitter<ManagerEventMap>;
  readonly #members = new Map<string, Member<C>>();
  readonly #recovery: HostRecovery<C>;
  /** First attempts and retries go through it: at most `connectConcurrency` at a time. */
  readonly #gate = new ConnectGate(() => this.#settings.connectConcurrency);
  readonly #tools = new ToolSourceSwitch();
  readonly #dispatcher: Dispatcher<C>;
  /** Shared by every supervisor: settings, clock, logger, scorer and where they report. */
  readonly #supervision: SupervisorContext;
  #strategy: Strategy;
  #settings: ManagerSettings;
  #running = false;
  #initialized = false;
  #unsubscribeHealth: (() => void) | undefined;

  constructor(options: ConnectionManagerOptions<C>) {
    this.#factory = factoryOf(options);
    this.#health = options.healthScorer;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    [this.#settings, this.#strategy] = reconfigured(defaultManagerSettings, roundRobin(), options);
    this.#events = new Emitter((error) =>
      this.#logger.error({ err: redact(describeError(error)) }, "manager event listener threw"),
    );
    this.#supervision = {
      settings: () => this.#settings,
      now: this.#now,
      random: this.#random,
      logger: this.#logger,
      health: this.#health,
      inTurn: (attempt) => this.#gate.run(attempt),
      report: (supervisor, event, payload) => {
        if (event === "stateChanged") {
          const { from, to } = payload as SupervisorReports["stateChanged"];
          if (from === "connected" || to === "connected") this.#dispatcher.invalidate();
        }
        if (event === "connected") this.#recovery.connected(supervisor.endpoint);
        if (event === "reconnectScheduled")
          this.#recovery.waiting(supervisor.endpoint, supervisor.hostSilent);
        this.#emit(
          event,
          supervisor.endpoint,
          payload as unknown as Omit<ManagerEventMap[typeof event], keyof EndpointEvent>,
        );
      },
    };
    this.#recovery = new HostRecovery({
      supervisors: () => [...this.#members.values()].map((m) => m.supervisor),
      settings: () => this.#settings,
      now: this.#now,
      random: this.#random,
      probe: this.#factory.probe?.bind(this.#factory),
    });
    this.#dispatcher = new Dispatcher<C>({
      ...this.#supervision,
      candidates: () => [...this.#members.values()].map((m) => m.candidate),
      strategy: () => this.#strategy,
    });
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

  /** True once `initialize()` was called (until `cleanup()`). */
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

  /** Listeners the manager holds, on itself and on its tool source; for leak checks. */
  listenerCount(): number {
    return this.#events.listenerCount() + this.#tools.listenerCount;
  }

  /** Changes timings or the strategy at run time, sockets untouched; a bad one throws `INVALID_CONFIG`. */
  configure(options: Partial<Omit<ConnectionManagerOptions<C>, "connectionFactory" | "healthScorer">>): void {
    [this.#settings, this.#strategy] = reconfigured(this.#settings, this.#strategy, options);
  }

  /**
   * Sets the endpoint list (and the tool source) without connecting. An invalid input throws
   * `INVALID_ENDPOINT` and nothing changes. Called again, it applies the list as a diff (`reconcile`).
   */
  async initialize(endpoints: readonly EndpointInput[], tools?: ToolSource): Promise<ReconcileResult> {
    if (tools) this.setToolSource(tools);
    const result = await this.reconcile(endpoints);
    this.#initialized = true;
    return result;
  }

  /** Connects every endpoint not connected; resolves once each first attempt settled (retries go on). */
  async connect(): Promise<void> {
    this.#running = true;
    await Promise.allSettled([...this.#members.values()].map((m) => this.#firstStart(m)));
  }

  /** Closes every link with 1000 and stops reconnecting; `connect()` starts them again. */
  async disconnect(): Promise<void> {
    this.#running = false;
    this.#recovery.stop();
    this.#gate.drain();
    await Promise.allSettled(
      [...this.#members.values()].map((m) => m.supervisor.stop(1000, "disconnect", "disconnected")),
    );
  }

  /**
   * Adds an endpoint; when the manager is running, connects it and resolves after that first
   * attempt settles. Throws `DUPLICATE_ENDPOINT` or `INVALID_ENDPOINT`.
   */
  async addEndpoint(input: EndpointInput): Promise<EndpointStatus> {
    const endpoint = resolveEndpoint(input);
    if (this.#members.has(endpoint.id)) {
      throw new XiaozhiError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.masked} is already configured`);
    }
    const member = this.#add(endpoint);
    if (this.#running) await this.#firstStart(member);
    return this.#snapshot(member);
  }

  /**
   * Removes an endpoint by id or URL: cancels its retries, closes its link with 1000 and `reason`
   * and forgets it. Resolves false when it was not configured.
   */
  async removeEndpoint(idOrUrl: string, reason = "endpoint removed"): Promise<boolean> {
    const member = this.#find(idOrUrl);
    if (!member) return false;
    const { endpoint } = member.supervisor;
    this.#members.delete(endpoint.id);
    this.#dispatcher.invalidate();
    await member.supervisor.dispose(reason);
    this.#health?.remove(endpoint.id);
    this.#emit("removed", endpoint, {});
    return true;
  }

  /**
   * Applies a new endpoint list as a diff: endpoints not listed are removed, new ones added (and
   * connected when running), ones whose URL or data changed are replaced, and unchanged ones keep
   * their connection and socket (a weight change applies in place, to the next pick); they list in
   * `desired`'s order. Validates everything first; a duplicate in the list is ignored with a warning.
   */
  async reconcile(desired: readonly EndpointInput[]): Promise<ReconcileResult> {
    const { result, settled } = this.apply(desired);
    await settled;
    return result;
  }

  /**
   * Applies a new endpoint list as {@link reconcile} does, but returns as soon as the list is the
   * manager's: endpoints are added, replaced and removed in this call, and `settled` resolves once
   * the removed links have closed and the new ones' first attempts have settled. So a caller that
   * serialises list changes need not hold its lock while links connect; a replaced endpoint's new
   * link opens only after its old one closed. `removedBecause` names why an endpoint left out is
   * closed ("endpoint removed" by default). Throws `INVALID_ENDPOINT` before changing anything.
   */
  apply(desired: readonly EndpointInput[], removedBecause?: (id: string) => string): ListApplied {
    const current = new Map([...this.#members].map(([id, m]) => [id, m.supervisor.endpoint] as const));
    const { next, result, retitled } = diffEndpoints(current, desired, this.#logger);
    for (const endpoint of retitled) {
      (this.#members.get(endpoint.id) as Member<C>).supervisor.endpoint = endpoint;
    }
    // A new candidates array, so strategies' per-array caches see a new weight at once.
    if (retitled.length > 0) this.#dispatcher.invalidate();
    const closing = new Map<string, Promise<boolean>>();
    for (const id of result.removed) closing.set(id, this.removeEndpoint(id, removedBecause?.(id)));
    for (const id of result.changed) closing.set(id, this.removeEndpoint(id));
    const running = this.#running;
    const opening = [...result.changed, ...result.added].map(async (id) => {
      const replaced = closing.get(id);
      const endpoint = next.get(id) as ResolvedEndpoint;
      const member = this.#add(endpoint, replaced === undefined);
      // A replaced endpoint's new link waits for the old one, so one token never has both; and
      // it is announced after the old one's removal, as if removed and added again.
      await replaced;
      if (this.#members.get(id) !== member) return;
      if (replaced) this.#emit("added", endpoint, {});
      if (running) await this.#firstStart(member);
    });
    // Every member is in by now (added before its first wait): they list in the desired order.
    if (reorder(this.#members, [...next.keys()])) this.#dispatcher.invalidate();
    const settled = Promise.allSettled([...closing.values(), ...opening]).then(() => {});
    return { result, settled };
  }

  /**
   * Reconnects one endpoint now, whatever the others do: resets its attempt counter (also after
   * `failed`) and, when it is connected, closes the link with 1000 first. Throws `UNKNOWN_ENDPOINT`.
   */
  async reconnect(idOrUrl: string): Promise<EndpointStatus> {
    const member = this.#find(idOrUrl);
    if (!member) throw new XiaozhiError("UNKNOWN_ENDPOINT", `no endpoint ${redact(idOrUrl)}`);
    await member.supervisor.reconnect();
    return this.#snapshot(member);
  }

  /** Connections that are connected and not ejected by the health scorer. */
  getHealthyConnections(): C[] {
    return this.#dispatcher.healthy().map((c) => c.connection);
  }

  /** One immutable snapshot per endpoint, in insertion order. */
  getConnectionStatus(): EndpointStatus[] {
    return [...this.#members.values()].map((member) => this.#snapshot(member));
  }

  /** The snapshot of one endpoint by id or URL. */
  getEndpointStatus(idOrUrl: string): EndpointStatus | undefined {
    const member = this.#find(idOrUrl);
    return member && this.#snapshot(member);
  }

  /** Every endpoint's connection object, whatever its state, in insertion order. */
  getConnections(): C[] {
    return [...this.#members.values()].map((member) => member.supervisor.connection);
  }

  /** The connection object of one endpoint by id or URL. */
  getConnection(idOrUrl: string): C | undefined {
    return this.#find(idOrUrl)?.supervisor.connection;
  }

  isAnyConnected(): boolean {
    for (const member of this.#members.values()) if (member.supervisor.state === "connected") return true;
    return false;
  }

  /** Sets where the endpoints' tools come from; every connection hears of the change. */
  setToolSource(source: ToolSource): void {
    this.#tools.set(source);
  }

  /** {@link setToolSource} under the name xiaozhi-client's connection manager gives it. */
  setServiceManager(source: ToolSource): void {
    this.setToolSource(source);
  }

  /** {@inheritDoc Dispatcher.dispatch} */
  dispatch<T>(op: ConnectionOperation<C, T>, options: DispatchOptions = {}): Promise<T> {
    return this.#dispatcher.dispatch(op, options);
  }

  /** Runs `op` on every connected endpoint at once and reports each outcome; never throws. */
  broadcast<T>(
    op: ConnectionOperation<C, T>,
    options: Omit<DispatchOptions, "key"> = {},
  ): Promise<BroadcastResult<T>[]> {
    return this.#dispatcher.broadcast(op, options);
  }

  /**
   * Closes every link with 1000, cancels every timer and retry, drops every listener it holds
   * (its own subscribers included) and returns to the uninitialised state.
   */
  async cleanup(): Promise<void> {
    this.#running = false;
    this.#recovery.stop();
    this.#gate.drain();
    await Promise.allSettled([...this.#members.keys()].map((id) => this.removeEndpoint(id)));
    this.#tools.detach();
    this.#unsubscribeHealth?.();
    this.#unsubscribeHealth = undefined;
    this.#events.removeAllListeners();
    this.#initialized = false;
  }

  /**
   * An endpoint's first attempt, through the gate; by the time its turn comes it may have been
   * removed or the manager stopped, and then it does not start.
   */
  #firstStart(member: Member<C>): Promise<void> {
    return this.#gate.run((opened) =>
      this.#running && this.#members.get(member.supervisor.id) === member
        ? member.supervisor.start(opened)
        : undefined,
    );
  }

  #add(endpoint: ResolvedEndpoint, announce = true): Member<C> {
    const connection = this.#factory(endpoint, { tools: this.#tools, logger: this.#logger });
    const supervisor = new EndpointSupervisor(endpoint, connection, this.#supervision);
    const member = { supervisor, candidate: new SupervisedCandidate(supervisor, this.#health) };
    if (this.#health) {
      this.#unsubscribeHealth ??= this.#health.onEjectionChanged(() => this.#dispatcher.invalidate());
    }
    this.#members.set(endpoint.id, member);
    this.#dispatcher.invalidate();
    if (announce) this.#emit("added", endpoint, {});
    return member;
  }

  #emit<K extends keyof ManagerEventMap>(
    event: K,
    endpoint: ResolvedEndpoint,
    extra: Omit<ManagerEventMap[K], keyof EndpointEvent>,
  ): void {
    if (this.#events.listenerCount(event) === 0) return;
    const payload = {
      id: endpoint.id,
      url: endpoint.masked,
      ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
      at: this.#now(),
      ...extra,
    };
    this.#events.emit(event, payload as unknown as ManagerEventMap[K]);
  }

  #find(idOrUrl: string): Member<C> | undefined {
    const member = this.#members.get(idOrUrl);
    // Only a URL (it has a scheme) is worth resolving: an unknown id stays unknown. Ten thousand
    // removed endpoints are asked about by id at a shutdown, and each would throw parsed as a URL.
    return member ?? (hasScheme.test(idOrUrl) ? this.#members.get(endpointId(idOrUrl)) : undefined);
  }

  #snapshot(member: Member<C>): EndpointStatus {
    return statusOf(member.supervisor, member.candidate, this.#health);
  }
}

export type { BroadcastResult, ConnectionOperation, DispatchOptions } from "./dispatcher.js";
export type { EndpointEvent, EndpointStatus, ManagerEventMap, ReconcileResult } from "./manager-events.js";
export type { ConnectionManagerOptions } from "./manager-options.js";
export { defaultManagerSettings, type ManagerSettings } from "./settings.js";
