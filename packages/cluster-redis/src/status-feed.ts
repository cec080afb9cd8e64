import type { EndpointStatus } from "@xiaozhi-connect/core";
import type { StatusChangeMessage } from "./messages.js";
import type { MembershipStore, StatusChange } from "./stores.js";

/**
 * Figures that move on their own: published when they drift, not on every change. The health
 * report's ejection is no drift: an endpoint ejected or readmitted is a change.
 */
const drifting = new Set(["rttMs", "healthScore", "health", "lastFrameAt"]);

/** Leases between two looks at every status the host shows: what a missed touch left out is found then. */
const wholeEvery = 10;

/**
 * What this instance runs, published as changes: the endpoints whose state changed, or whose RTT
 * or health moved enough to matter and still had at the next look (looked at once a lease: one
 * slow ping on a busy host is not news), and those it no longer runs. With
 * nothing changed the stored copy is only kept alive: a steady instance publishes nothing. Each
 * change has a version, announced in every heartbeat, so another instance that missed one reads
 * the stored copy. Everything is published at the start and after Redis was away.
 *
 * Told which endpoints changed (and given a way to read one), it looks at those only: while a
 * batch of links connects, a change of fifty costs fifty statuses, not one per endpoint run here.
 * The look once a lease goes over every endpoint published, reading one at a time: built all at
 * once, the statuses of 2,000 endpoints outlived two young-generation collections, and every look
 * left half a megabyte for a full collection to find. Every tenth looks at all the host shows.
 */
export class StatusFeed {
  /** Counts the changes published by this process. */
  version = 0;
  /** Something changed that only a look at every endpoint finds. */
  #dirty = true;
  /** The endpoints said to have changed since the last send. */
  #touched = new Set<string>();
  #full = true;
  #lookedAt = Number.NEGATIVE_INFINITY;
  #wholeAt = Number.NEGATIVE_INFINITY;
  /** Each endpoint as last published. */
  #published = new Map<string, EndpointStatus>();
  /**
   * The endpoints whose RTT or health had drifted at the last look once a lease: published if they
   * still have at the next.
   */
  #drifted = new Set<string>();

  /** The state of what runs here changed: of endpoint `id` when given. */
  touch(id?: string): void {
    if (id === undefined) this.#dirty = true;
    else this.#touched.add(id);
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
    /** One endpoint run here, undefined when it runs none by that id; without it, every look is whole. */
    one?: (id: string) => EndpointStatus | undefined,
  ): Promise<void> {
    const due = now - this.#lookedAt >= leaseTtl;
    const full = this.#full;
    const touched = this.#touched;
    const whole =
      full ||
      this.#dirty ||
      (due && (one === undefined || now - this.#wholeAt >= wholeEvery * leaseTtl)) ||
      (one === undefined && touched.size > 0);
    if (!whole && !due && touched.size === 0) return;
    this.#dirty = false;
    this.#touched = new Set();
    if (due) this.#lookedAt = now;
    if (whole) this.#wholeAt = now;
    const { published, changed, gone } = whole
      ? this.#lookAtAll(statuses(), full, due)
      : this.#lookAt(touched, one as (id: string) => EndpointStatus | undefined, due);
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
    this.#published = published();
    // Published between looks: any drift is measured from this copy now.
    for (const status of changed) this.#drifted.delete(status.id);
  }

  /**
   * Every endpoint run here against what was published. When `due`, a drift found is noted, and
   * published if it was noted at the last due look too.
   */
  #lookAtAll(statuses: readonly EndpointStatus[], full: boolean, due: boolean): Look {
    const published = new Map<string, EndpointStatus>();
    const changed: EndpointStatus[] = [];
    const drifting = new Set<string>();
    for (const status of statuses) {
      const before = this.#published.get(status.id);
      const moved = full || this.#moved(status, before, due, drifting);
      published.set(status.id, moved ? status : (before as EndpointStatus));
      if (moved) changed.push(status);
    }
    if (due || full) this.#drifted = drifting;
    const gone = full ? [] : [...this.#published.keys()].filter((id) => !published.has(id));
    return { published: () => published, changed, gone };
  }

  /**
   * Whether `status` goes out against `before`, as published: its shape changed, or (at a `due`
   * look) its RTT or health drifted, as it had at the last due look. A first drift is noted in
   * `drifting`.
   */
  #moved(
    status: EndpointStatus,
    before: EndpointStatus | undefined,
    due: boolean,
    drifting: Set<string>,
  ): boolean {
    if (before === undefined || !sameShape(before, status)) return true;
    if (!due || !drifted(before, status)) return false;
    if (this.#drifted.has(status.id)) return true;
    drifting.add(status.id);
    return false;
  }

  /**
   * The endpoints `touched`, one at a time; when `due`, every endpoint published as well, with
   * drift noted as {@link #moved} notes it. What was published of the others stays.
   */
  #lookAt(touched: ReadonlySet<string>, one: (id: string) => EndpointStatus | undefined, due: boolean): Look {
    const changed: EndpointStatus[] = [];
    const gone: string[] = [];
    const drifting = new Set<string>();
    const look = (id: string, before: EndpointStatus | undefined) => {
      const status = one(id);
      if (status === undefined) {
        if (before !== undefined) gone.push(id);
        return;
      }
      if (this.#moved(status, before, due, drifting)) changed.push(status);
    };
    if (due) {
      for (const [id, before] of this.#published) look(id, before);
      for (const id of touched) if (!this.#published.has(id)) look(id, undefined);
      this.#drifted = drifting;
    } else for (const id of touched) look(id, this.#published.get(id));
    // Applied to what was published once the change is saved.
    const published = () => {
      for (const id of gone) this.#published.delete(id);
      for (const status of changed) this.#published.set(status.id, status);
      return this.#published;
    };
    return { published, changed, gone };
  }
}

/** What a look found: what goes out, and what is published once it went. */
interface Look {
  readonly published: () => Map<string, EndpointStatus>;
  readonly changed: EndpointStatus[];
  readonly gone: string[];
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

/**
 * Whether two statuses show the same, the drifting figures aside (the ejection counts). Field by
 * field: this runs for every endpoint held, once a lease, and must not build a string for each.
 */
function sameShape(a: EndpointStatus, b: EndpointStatus): boolean {
  const left = a as unknown as Record<string, unknown>;
  const right = b as unknown as Record<string, unknown>;
  let fields = 0;
  // As JSON sees them: a field set to undefined is no field.
  for (const key in right) {
    const x = left[key];
    const y = right[key];
    if (drifting.has(key) || y === undefined) continue;
    fields++;
    if (x === y) continue;
    if (typeof x !== "object" || typeof y !== "object" || JSON.stringify(x) !== JSON.stringify(y))
      return false;
  }
  for (const key in left) if (!drifting.has(key) && left[key] !== undefined) fields--;
  return fields === 0 && (a.health?.ejected ?? false) === (b.health?.ejected ?? false);
}

/** Whether an endpoint's health moved by 10 or more, or its RTT by half and 20 ms, since published. */
function drifted(before: EndpointStatus, now: EndpointStatus): boolean {
  if (Math.abs(now.healthScore - before.healthScore) >= 10) return true;
  const [a, b] = [before.rttMs, now.rttMs];
  if ((a === undefined) !== (b === undefined)) return true;
  return a !== undefined && b !== undefined && Math.abs(b - a) >= Math.max(20, a / 2);
}
