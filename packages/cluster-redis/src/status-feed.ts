import type { EndpointStatus } from "@xiaozhi-connect/core";
import type { StatusChangeMessage } from "./messages.js";
import type { MembershipStore, StatusChange } from "./stores.js";

/** An endpoint as last published: what the view shows of it, and the figures that drift. */
interface Published {
  readonly shape: string;
  readonly rttMs: number | undefined;
  readonly healthScore: number;
}

/**
 * What this instance runs, published as changes: the endpoints whose state changed, or whose RTT
 * or health moved enough to matter (looked at once a lease), and those it no longer runs. With
 * nothing changed the stored copy is only kept alive: a steady instance publishes nothing. Each
 * change has a version, announced in every heartbeat, so another instance that missed one reads
 * the stored copy. Everything is published at the start and after Redis was away.
 */
export class StatusFeed {
  /** Counts the changes published by this process. */
  version = 0;
  #dirty = true;
  #full = true;
  #lookedAt = Number.NEGATIVE_INFINITY;
  #published = new Map<string, Published>();

  /** The state of what runs here changed. */
  touch(): void {
    this.#dirty = true;
  }

  /** Publish everything on the next chance: Redis may have come back without it. */
  again(): void {
    this.#full = true;
  }

  async send(
    now: number,
    leaseTtl: number,
    by: string,
    statuses: () => readonly EndpointStatus[],
    store: {
      save(change: StatusChange, message: string): Promise<void>;
      keep(): Promise<void>;
    },
  ): Promise<void> {
    const due = now - this.#lookedAt >= leaseTtl;
    const full = this.#full;
    if (!this.#dirty && !due && !full) return;
    this.#dirty = false;
    if (due) this.#lookedAt = now;
    const published = new Map<string, Published>();
    const changed: EndpointStatus[] = [];
    for (const status of statuses()) {
      const before = this.#published.get(status.id);
      const { rttMs, healthScore, health, lastFrameAt, ...rest } = status;
      const shape = JSON.stringify(rest);
      const moved = full || before?.shape !== shape || (due && drifted(before, status));
      published.set(status.id, moved ? { shape, rttMs, healthScore } : (before as Published));
      if (moved) changed.push(status);
    }
    const gone = full ? [] : [...this.#published.keys()].filter((id) => !published.has(id));
    if (changed.length === 0 && gone.length === 0 && !full) {
      if (due) await store.keep();
      return;
    }
    const version = this.version + 1;
    const message: StatusChangeMessage = {
      t: "status-change",
      by,
      v: version,
      ...(full ? { full } : {}),
      endpoints: changed,
      ...(gone.length > 0 ? { gone } : {}),
    };
    const change: StatusChange = {
      version,
      full,
      set: changed.map((status) => [status.id, JSON.stringify(status)]),
      gone,
    };
    try {
      await store.save(change, JSON.stringify(message));
    } catch (error) {
      // Not stored: what was published before is unknown, so all of it goes next time.
      this.#full = true;
      throw error;
    }
    this.version = version;
    this.#full = false;
    this.#published = published;
  }
}

/** Where an instance's feed is stored: its copy in Redis, kept for three leases. */
export function storedFeed(
  members: MembershipStore,
  self: string,
  incarnation: string,
  leaseTtl: number,
): { save(change: StatusChange, message: string): Promise<void>; keep(): Promise<void> } {
  return {
    save: (change, message) => members.saveStatus(self, { ...change, incarnation }, message, leaseTtl * 3),
    keep: () => members.keepStatus(self, leaseTtl * 3),
  };
}

/** Whether an endpoint's health moved by 10 or more, or its RTT by half and 20 ms, since published. */
function drifted(before: Published, now: EndpointStatus): boolean {
  if (Math.abs(now.healthScore - before.healthScore) >= 10) return true;
  const [a, b] = [before.rttMs, now.rttMs];
  if ((a === undefined) !== (b === undefined)) return true;
  return a !== undefined && b !== undefined && Math.abs(b - a) >= Math.max(20, a / 2);
}
