import type { Connection, ConnectionEventMap, ConnectionState } from "@xiaozhi-connect/core";
import { Emitter } from "@xiaozhi-connect/core";
import { type CallExtras, McpService, type McpServiceOptions, type ServiceState } from "./mcp-service.js";
import type { ReplicaConfig } from "./service-config.js";

const connectionStates: Readonly<Record<ServiceState, ConnectionState>> = {
  up: "connected",
  starting: "connecting",
  down: "disconnected",
  stopped: "stopped",
};

/** One replica of a service as a core `Connection`, so a ConnectionManager can supervise it. */
export class ReplicaConnection implements Connection {
  readonly specificationVersion = "v1" as const;
  readonly #events = new Emitter<ConnectionEventMap>();
  readonly service: McpService;
  readonly #options: McpServiceOptions;
  /** Calls running on this replica. */
  #calls = 0;
  /** Set by `retire`: how long its close waits for its calls in flight, ms. */
  #drainLimit: number | undefined;
  /** Set by `cut`: its close waits for nothing. */
  #cut = false;
  /** Ends the wait of a retired replica's close for its calls (the last one ended, the limit, `cut`). */
  #drained: (() => void) | undefined;
  /** Settles once a retired replica's service has stopped (see `retire`). */
  readonly #stopped = deferred();
  /** Settles once the first attempt to start it has (up or failed), or at its close. */
  readonly #firstAttempt = deferred();

  constructor(
    readonly id: string,
    readonly index: number,
    name: string,
    config: ReplicaConfig,
    options: McpServiceOptions,
  ) {
    this.#options = options;
    this.service = new McpService(name, config, {
      ...options,
      onClosed: (reason) =>
        this.#events.emit("closed", { code: 1006, reason, retryable: true, at: Date.now() }),
    });
  }

  get state(): ConnectionState {
    return connectionStates[this.service.state];
  }

  /** Calls running on it now. */
  get calls(): number {
    return this.#calls;
  }

  /** Settles once its first attempt to start has settled (up or failed), or once it was closed. */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt.promise;
  }

  on<K extends keyof ConnectionEventMap>(event: K, listener: (payload: ConnectionEventMap[K]) => void) {
    return this.#events.on(event, listener);
  }

  /** Starts the replica's service; the signal (handshake deadline, stop) ends its process. */
  connect(signal: AbortSignal): Promise<void> {
    const attempt = this.service.start(signal);
    void attempt.then(this.#firstAttempt.resolve, this.#firstAttempt.resolve);
    return attempt;
  }

  /**
   * Stops the replica's service. A retired replica (see `retire`) first lets the calls running on
   * it end, each within its caller's own deadline, for at most its drain limit, or until `cut()`.
   */
  async close(): Promise<void> {
    this.#firstAttempt.resolve();
    const limit = this.#drainLimit;
    if (limit !== undefined && !this.#cut && this.#calls > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      const timer = setTimeout(() => {
        this.#options.logger?.warn(
          { replica: this.index, calls: this.#calls, drainLimitMs: limit },
          "removed replica still running calls after its drain limit; stopping it",
        );
        this.#drain();
      }, limit);
      await drained;
      clearTimeout(timer);
    }
    try {
      await this.service.stop();
    } finally {
      if (limit !== undefined) this.#stopped.resolve();
    }
  }

  /**
   * Marks the replica as leaving its service for good (its entry was removed): nothing new is sent
   * to it once its supervisor lets go of it, and its close waits for the calls it is running, for
   * at most `drainLimit` ms (then they fail as cut off by a stop). Resolves once it has stopped.
   */
  retire(drainLimit: number): Promise<void> {
    this.#drainLimit = drainLimit;
    return this.#stopped.promise;
  }

  /** Ends a retired replica's wait for its calls now: its service stops (the whole service stops). */
  cut(): void {
    this.#cut = true;
    this.#drain();
  }

  async ping(signal?: AbortSignal): Promise<number> {
    const ms = await this.service.ping(signal);
    this.#events.emit("rtt", { ms, at: Date.now() });
    return ms;
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
    extras?: CallExtras,
  ) {
    this.#calls++;
    try {
      return await this.service.callTool(name, args, signal, extras);
    } finally {
      if (--this.#calls === 0) this.#drain();
    }
  }

  #drain(): void {
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }
}

/** A promise with its resolve function; settling it again does nothing. */
function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
