import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import type { BackoffOptions, ConnectionState, HealthScorer } from "@xiaozhi-connect/core";
import type { McpServiceOptions } from "./mcp-service.js";

export interface ReplicatedServiceOptions extends Omit<McpServiceOptions, "onClosed"> {
  /** Restart backoff; default 1 s ×2 up to 60 s, full jitter. */
  readonly backoff?: Partial<BackoffOptions> | undefined;
  /** A replica that stays up this long resets its backoff; default 10000 ms. */
  readonly minUptime?: number | undefined;
  /** Uniform random in [0, 1) for the backoff's jitter; default Math.random. */
  readonly random?: (() => number) | undefined;
  readonly strategies?: StrategyRegistry | undefined;
  /** Called whenever a replica's state changes (starting, up, down, restart scheduled). */
  readonly onStatusChanged?: (() => void) | undefined;
  /** Scores replicas and ejects failing ones; default a fresh `healthScorer()`. */
  readonly healthScorer?: HealthScorer | undefined;
  /**
   * How long a service that was up keeps its tools listed while it is down and restarting, in ms;
   * default 30000, 0 drops them at once. A crash followed by a restart then changes no agent's
   * list (agents that read the list only at connect would be reconnected for nothing); calls
   * meanwhile fail with "restarting".
   */
  readonly toolsHold?: number | undefined;
  /**
   * The strategy of a replicated service that names none (`strategy` in its config wins); default
   * `least-inflight`. Looked up in `strategies`.
   */
  readonly strategy?: string | undefined;
  /** Scoring and ejection settings for the replicas' own scorer (the config's `health` block). */
  readonly health?: Readonly<Record<string, unknown>> | undefined;
  /**
   * How long a replica whose entry was removed from a running service may go on running the calls
   * it has, in ms; default 30000 (`defaultDrainLimit`). It takes no new call meanwhile (it is listed
   * as `draining` in `replicas()`), and stops as soon as its last call ends; when the limit comes
   * first, it stops anyway and the calls still running fail as cut off by a stop. A call without a
   * deadline of its own thus keeps no removed process running for ever.
   */
  readonly drainLimit?: number | undefined;
}

/** How long a removed replica may go on running its calls unless told otherwise, ms. */
export const defaultDrainLimit = 30_000;

/** What `configure` may change on a running service. */
export interface ServiceSettings {
  readonly toolsHold?: number;
  readonly strategy?: string;
  readonly health?: Readonly<Record<string, unknown>>;
}

/** How long a restarting service keeps its tools listed unless told otherwise, ms. */
export const defaultToolsHold = 30_000;

/** A new config for a running service, checked and ready to apply in place (see `prepareChange`). */
export interface PreparedChange {
  /**
   * Applies it now; resolves once the first attempts of the replicas it adds have settled (at once
   * when it adds none). Replicas it removes leave the list at once, then drain in the background
   * (see `drainLimit`): this waits for none of them.
   */
  commit(): Promise<void>;
}

/** The state of one replica for status pages. */
export interface ReplicaStatus {
  /** The `n` of the replica's id `<service>#<n>`: it keeps it while its entry stays in the config. */
  readonly index: number;
  readonly state: ConnectionState;
  readonly healthScore: number;
  readonly inflight: number;
  readonly lastError?: string;
  /**
   * True for a replica whose entry was removed and which still runs calls it had: it takes no new
   * one and stops once they have ended, at the latest after `drainLimit` (its `healthScore` is 0).
   */
  readonly draining?: boolean;
}
