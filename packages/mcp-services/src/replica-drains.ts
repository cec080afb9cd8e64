import { checkOption, msRule } from "@xiaozhi-connect/core";
import type { ReplicaConnection } from "./replica-connection.js";
import type { ReplicaStatus } from "./replicated-options.js";

/**
 * The replicas a service let go of (their entries were removed) that still run: each takes no new
 * call, lets the calls it runs end for at most the drain limit, then stops.
 */
export class ReplicaDrains {
  readonly #draining = new Set<ReplicaConnection>();
  readonly #stopping = new Set<Promise<void>>();
  readonly #limit: number;
  readonly #onStopped: () => void;

  /**
   * `limit`: how long a retired replica may run its calls, ms (`INVALID_CONFIG` unless a finite
   * number, 0 or more); `onStopped`: one has stopped.
   */
  constructor(limit: number, onStopped: () => void) {
    checkOption("drainLimit", msRule, limit);
    this.#limit = limit;
    this.#onStopped = onStopped;
  }

  /** Retires `connections`, before their supervisor lets go of them (and closes them). */
  retire(connections: readonly ReplicaConnection[]): void {
    for (const connection of connections) {
      this.#draining.add(connection);
      const stopped = connection.retire(this.#limit).then(() => {
        this.#draining.delete(connection);
        this.#stopping.delete(stopped);
        this.#onStopped();
      });
      this.#stopping.add(stopped);
    }
  }

  /** A retired replica whose service is still up, if any. */
  up(): ReplicaConnection | undefined {
    for (const connection of this.#draining) if (connection.service.state === "up") return connection;
    return undefined;
  }

  /** The retired replicas still running, for status pages: `draining`, with a health score of 0. */
  statuses(): ReplicaStatus[] {
    return [...this.#draining].map((connection) => ({
      index: connection.index,
      state: connection.state,
      healthScore: 0,
      inflight: connection.calls,
      draining: true,
      ...(connection.service.lastError === undefined ? {} : { lastError: connection.service.lastError }),
    }));
  }

  /** Stops every retired replica now, calls running or not; resolves once all have stopped. */
  async cut(): Promise<void> {
    for (const connection of this.#draining) connection.cut();
    await Promise.allSettled([...this.#stopping]);
  }
}
