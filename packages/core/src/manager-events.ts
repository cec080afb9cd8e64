import type { ConnectionState, RepublishCause } from "./connection.js";
import type { HealthReport } from "./health.js";

/** An immutable snapshot of one endpoint. Safe to serialise: the URL is masked. */
export interface EndpointStatus {
  readonly id: string;
  /** Masked URL (or the endpoint's label). */
  readonly url: string;
  /** The endpoint's human name (an agent's name), when it has one. */
  readonly name?: string;
  readonly state: ConnectionState;
  readonly connected: boolean;
  /** The far side completed MCP `initialize` on the current link. */
  readonly initialized: boolean;
  /** Epoch ms of the last successful connect. */
  readonly lastConnected?: number;
  readonly lastError?: string;
  /** Epoch ms when `lastError` happened. */
  readonly lastErrorAt?: number;
  /** Attempts since the link was last stable for `minUptime`. */
  readonly reconnectAttempts: number;
  /** Epoch ms of the scheduled reconnect: while `reconnecting`, and while `failed` after a rejected token. */
  readonly nextReconnectAt?: number;
  /**
   * True while the link is reopened so its agent, which reads the tool list only at connect,
   * lists the changed tools: a planned reconnect, not a failure.
   */
  readonly republishing: boolean;
  /** The health report's score; without a health scorer, 100 while connected and 0 otherwise. */
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
  /** Masked URL (or the endpoint's label). */
  readonly url: string;
  /** The endpoint's human name, when it has one. */
  readonly name?: string;
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
  /** The endpoint's link was closed to republish its tools and is being reopened at once. */
  republishing: EndpointEvent & { readonly cause: RepublishCause };
  /**
   * A round trip was measured on the endpoint's link (heartbeat, ping); `healthScore` is the
   * endpoint's score with it counted (as its status would show).
   */
  rtt: EndpointEvent & { readonly ms: number; readonly healthScore: number };
  /**
   * The far side's request was answered on the endpoint's link: `tool` names the tool of a
   * `tools/call`. Arguments and results are never part of it.
   */
  handled: EndpointEvent & {
    readonly method: string;
    readonly tool?: string;
    readonly ok: boolean;
    readonly ms: number;
    /** Set when the result was cut to fit the endpoint's `maxResultBytes`: bytes before and after. */
    readonly truncated?: { readonly from: number; readonly to: number };
  };
}

export interface ReconcileResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
}

/** A list applied by `ConnectionManager.apply`: what changed, and when the links have settled. */
export interface ListApplied {
  readonly result: ReconcileResult;
  readonly settled: Promise<void>;
}
