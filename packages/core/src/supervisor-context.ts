import type { Connection, ConnectionState, RepublishCause } from "./connection.js";
import type { EndpointSupervisor } from "./endpoint-supervisor.js";
import type { HealthScorer } from "./health.js";
import type { Logger } from "./logger.js";
import type { ManagerSettings } from "./settings.js";

/**
 * What a supervisor needs from the manager that owns it: live settings, shared services, and where
 * to report. One object serves every supervisor of a manager (each report names its supervisor),
 * so an endpoint costs no closures of its own.
 */
export interface SupervisorContext {
  readonly settings: () => ManagerSettings;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Logger;
  readonly health: HealthScorer | undefined;
  /**
   * Runs a retry whose time came in turn with the manager's other attempts (at most
   * `connectConcurrency` under way, each until its link is open): a host back after an outage takes
   * thousands of endpoints in waves, not in one burst whose connects its accept queue would drop.
   */
  inTurn(attempt: (opened: () => void) => Promise<void> | undefined): Promise<void>;
  report<K extends keyof SupervisorReports>(
    supervisor: EndpointSupervisor<Connection>,
    event: K,
    payload: SupervisorReports[K],
  ): void;
}

/** What a supervisor reports, by event. */
export interface SupervisorReports {
  stateChanged: { readonly from: ConnectionState; readonly to: ConnectionState };
  connecting: { readonly attempt: number };
  connected: Record<string, never>;
  initialized: Record<string, never>;
  connectFailed: { readonly reason: string; readonly retryable: boolean };
  disconnected: { readonly code: number; readonly reason: string };
  reconnectScheduled: {
    readonly attempt: number;
    readonly delayMs: number;
    readonly nextReconnectAt: number;
  };
  failed: { readonly reason: string };
  republishing: { readonly cause: RepublishCause };
  rtt: { readonly ms: number; readonly healthScore: number };
  handled: { readonly method: string; readonly tool?: string; readonly ok: boolean; readonly ms: number };
}
