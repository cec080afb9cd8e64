/** A real signal about one connection, fed to a `HealthScorer`. Times are epoch ms. */
export type HealthObservation =
  | { readonly kind: "connected"; readonly at: number }
  | { readonly kind: "closed"; readonly at: number; readonly code: number; readonly retryable: boolean }
  | { readonly kind: "connectFailed"; readonly at: number; readonly reason: string }
  | { readonly kind: "rtt"; readonly at: number; readonly ms: number }
  | { readonly kind: "success"; readonly at: number; readonly ms: number }
  | { readonly kind: "failure"; readonly at: number; readonly reason: string }
  | { readonly kind: "frame"; readonly at: number };

/** Why a connection has the score it has; shown in status. */
export interface HealthReport {
  readonly score: number;
  readonly ejected: boolean;
  readonly ejectedUntil?: number;
  /** Named parts of the score, e.g. `{ rtt: -5, failures: -20, flaps: 0 }`. */
  readonly parts: Readonly<Record<string, number>>;
}

/**
 * Turns observations into a 0–100 score and an eject/readmit decision per connection id.
 * Implementations must be cheap: `score` and `isEjected` run on every dispatch.
 */
export interface HealthScorer {
  readonly specificationVersion: "v1";
  observe(id: string, observation: HealthObservation): void;
  score(id: string): number;
  isEjected(id: string): boolean;
  /** The score with its parts; `report(id).score` must equal `score(id)` (statuses show the report's). */
  report(id: string): HealthReport;
  /** Forgets a connection (removed endpoint). */
  remove(id: string): void;
  /** Called when an id is ejected or readmitted; returns the unsubscribe function. */
  onEjectionChanged(listener: (id: string, ejected: boolean, reason: string) => void): () => void;
  /** Optional: applies new scoring settings (the config's `health` block); unknown ones are ignored. */
  configure?(settings: Readonly<Record<string, unknown>>): void;
  /** Optional: stops its timers and drops its listeners; called once at shutdown by its owner. */
  dispose?(): void;
}
