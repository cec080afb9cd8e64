/**
 * Shared by the connection-manager.*.test.ts files: endpoint URLs, a manager on a MemoryNetwork,
 * and a health scorer driven by hand. Test-only; tsconfig.build.json keeps it out of dist.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { ConnectionManager, type ConnectionManagerOptions } from "./connection-manager.js";
import { type EndpointInput, resolveEndpoint } from "./endpoint.js";
import type { HealthObservation, HealthScorer } from "./health.js";
import { type MemoryConnection, MemoryNetwork } from "./testing/memory-connection.js";

export const url = (n: number) => `wss://cloud.test/mcp/?token=secret-token-${n}`;
export const id = (n: number) => resolveEndpoint(url(n)).id;

export function setup(options: Partial<ConnectionManagerOptions<MemoryConnection>> = {}) {
  const network = new MemoryNetwork();
  const manager = new ConnectionManager<MemoryConnection>({
    connectionFactory: network.factory,
    random: () => 0.5,
    ...options,
  });
  return { network, manager };
}

/** Lets pending promises and zero-delay timers run without moving time meaningfully. */
export const settle = () => vi.advanceTimersByTimeAsync(1);

/** Every test of the file runs on fake timers, real ones restored after each. */
export function useFakeTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Initializes `manager` with `endpoints` and connects them all, on fake timers. */
export async function connected(
  manager: ConnectionManager<MemoryConnection>,
  endpoints: readonly EndpointInput[],
): Promise<void> {
  await manager.initialize(endpoints);
  const done = manager.connect();
  await settle();
  await done;
}

/** A scorer the test drives by hand, to check how the manager consumes one. */
export class ManualScorer implements HealthScorer {
  readonly specificationVersion = "v1" as const;
  readonly observed: [string, HealthObservation["kind"]][] = [];
  readonly ejected = new Set<string>();
  readonly listeners = new Set<(id: string, ejected: boolean, reason: string) => void>();
  observe(id: string, o: HealthObservation) {
    this.observed.push([id, o.kind]);
  }
  score(id: string) {
    return this.ejected.has(id) ? 10 : 90;
  }
  isEjected(id: string) {
    return this.ejected.has(id);
  }
  report(id: string) {
    return { score: this.score(id), ejected: this.isEjected(id), parts: { base: 90 } };
  }
  remove(id: string) {
    this.ejected.delete(id);
  }
  eject(id: string, ejected = true) {
    if (ejected) this.ejected.add(id);
    else this.ejected.delete(id);
    for (const l of this.listeners) l(id, ejected, "test");
  }
  onEjectionChanged(listener: (id: string, ejected: boolean, reason: string) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
