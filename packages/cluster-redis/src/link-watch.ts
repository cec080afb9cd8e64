import type { EndpointStatus } from "@xiaozhi-connect/core";

/** The longest an instance stays out of the running for what it could not serve, ms. */
const maxAvoid = 10 * 60_000;

/** What an instance stays out of the running for. */
export interface Avoided {
  readonly endpoints: ReadonlySet<string>;
  /** Hosts (`host:port`) it has no working path to: every endpoint on them. */
  readonly hosts: ReadonlySet<string>;
}

/**
 * Which endpoints held here this instance cannot serve: their links have been down for half a
 * lease (counted from their first attempt here, not while they wait their turn to connect) while
 * another instance keeps a link up to the same host, so the fault is on this instance's path, not
 * the agent's side. Those are let go, and this instance stays out of the running for them for a
 * while (four leases, doubling each time it happens again, at most ten minutes): for their whole
 * host when none of its links to that host is up, else for those endpoints. When no other
 * instance reaches the host, the agent's side is down for everyone: the holder keeps the endpoint
 * and keeps reconnecting.
 */
export class LinkWatch {
  readonly #downSince = new Map<string, number>();
  readonly #upSince = new Map<string, number>();
  readonly #hostOf = new Map<string, string>();
  /** Hosts with a link up here, as last observed. */
  #hostsUp = new Set<string>();
  readonly #avoid = new Map<string, { until: number; strikes: number }>();

  /**
   * The `stamp` of the last look that found every link held up (or still waiting its first
   * attempt) and no record to clear.
   */
  #calm: string | undefined;
  /** The last look found a link held up, not yet for a lease, with a give-up on record to clear. */
  #clearing = false;

  constructor(private readonly leaseTtl: number) {}

  /**
   * {@link observe}, skipped while the last look found every link held here up or still waiting
   * its first attempt, with no give-up on record for them still to clear, and nothing it looks at
   * has changed since (`stamp`: the links' states and what is held; a first attempt changes a
   * link's state). Then nothing depends on time, and a look at every link held would find the
   * same. A give-up of an endpoint held elsewhere since is no reason to look again.
   */
  observeChanged(
    stamp: string,
    now: number,
    held: Iterable<string>,
    local: () => readonly EndpointStatus[] | ReadonlyMap<string, EndpointStatus>,
    reached: (host: string) => boolean,
  ): Set<string> {
    if (stamp === this.#calm) return new Set();
    const unservable = this.observe(now, held, local(), reached);
    const calm = unservable.size === 0 && this.#downSince.size === 0 && !this.#clearing;
    this.#calm = calm ? stamp : undefined;
    return unservable;
  }

  /**
   * Looks at the links of the endpoints held here; returns those to let go. `reached(host)` says
   * whether another instance has a link up to that host now.
   */
  observe(
    now: number,
    held: Iterable<string>,
    local: readonly EndpointStatus[] | ReadonlyMap<string, EndpointStatus>,
    reached: (host: string) => boolean,
  ): Set<string> {
    const statuses = byId(local);
    const unservable = new Set<string>();
    const seen = new Set<string>();
    const hostsUp = new Set<string>();
    this.#clearing = false;
    for (const id of held) {
      seen.add(id);
      const status = statuses.get(id);
      // An endpoint's id is made from its URL, so its host is worked out once.
      let host = this.#hostOf.get(id);
      if (host === undefined && status) {
        host = hostOf(status.url);
        if (host !== undefined) this.#hostOf.set(id, host);
      }
      if (status?.connected) {
        if (host !== undefined) hostsUp.add(host);
        this.#downSince.delete(id);
        const up = this.#upSince.get(id) ?? now;
        this.#upSince.set(id, up);
        // A link that stays up for a lease clears the record of earlier give-ups.
        if (this.#avoid.size === 0) continue;
        const keys = host === undefined ? [`endpoint:${id}`] : [`endpoint:${id}`, `host:${host}`];
        if (!keys.some((key) => this.#avoid.has(key))) continue;
        if (now - up >= this.leaseTtl) for (const key of keys) this.#avoid.delete(key);
        else this.#clearing = true;
        continue;
      }
      this.#upSince.delete(id);
      // A link that failed (a rejected token, tried again only now and then) fails the same anywhere:
      // moving it helps nobody.
      if (status?.state === "failed") {
        this.#downSince.delete(id);
        continue;
      }
      // Not tried yet: it waits its turn at this instance's connect gate (ten thousand endpoints
      // start in waves), which says nothing about the path. Down from its first attempt.
      if (status !== undefined && waiting(status)) {
        this.#downSince.delete(id);
        continue;
      }
      const down = this.#downSince.get(id) ?? now;
      this.#downSince.set(id, down);
      if (now - down >= this.leaseTtl / 2 && host !== undefined && reached(host)) unservable.add(id);
    }
    this.#hostsUp = hostsUp;
    for (const map of [this.#downSince, this.#upSince, this.#hostOf]) {
      for (const id of map.keys()) if (!seen.has(id)) map.delete(id);
    }
    return unservable;
  }

  /** These endpoints were let go because they could not be served here. */
  gaveUp(ids: Iterable<string>, now: number): void {
    const keys = new Set<string>();
    for (const id of ids) {
      const host = this.#hostOf.get(id);
      keys.add(host !== undefined && !this.#hostsUp.has(host) ? `host:${host}` : `endpoint:${id}`);
      this.#downSince.delete(id);
    }
    // One give-up of many endpoints of a host is one strike against it.
    for (const key of keys) {
      const strikes = (this.#avoid.get(key)?.strikes ?? 0) + 1;
      this.#avoid.set(key, {
        until: now + Math.min(maxAvoid, 4 * this.leaseTtl * 2 ** (strikes - 1)),
        strikes,
      });
    }
  }

  /** What this instance stays out of the running for now. */
  avoiding(now: number): Avoided {
    const endpoints = new Set<string>();
    const hosts = new Set<string>();
    for (const [key, { until }] of this.#avoid) {
      // The record stays (strikes count on) until a link is up again; only the wait ends.
      if (until <= now) continue;
      if (key.startsWith("host:")) hosts.add(key.slice(5));
      else endpoints.add(key.slice(9));
    }
    return { endpoints, hosts };
  }
}

/** Statuses by endpoint id: the map given, or one made of the list. */
function byId(
  local: readonly EndpointStatus[] | ReadonlyMap<string, EndpointStatus>,
): ReadonlyMap<string, EndpointStatus> {
  return isList(local) ? new Map(local.map((s) => [s.id, s])) : local;
}

function isList(
  local: readonly EndpointStatus[] | ReadonlyMap<string, EndpointStatus>,
): local is readonly EndpointStatus[] {
  return Array.isArray(local);
}

/** A link never attempted yet: neither up before nor failed, its first attempt not begun. */
function waiting(status: EndpointStatus): boolean {
  return (
    status.state === "disconnected" && status.lastConnected === undefined && status.lastError === undefined
  );
}

/**
 * Hosts of the masked URLs seen. Parsing a URL is the costliest step of going over thousands of
 * statuses (each peer's, at every change it publishes), and an endpoint's URL never changes.
 */
const hosts = new Map<string, string | undefined>();

/**
 * The host (and port) of a masked URL (as statuses and the cluster's list show it, never one with
 * its token: the answers are kept); undefined when it is not one.
 */
export function hostOf(url: string): string | undefined {
  const known = hosts.get(url);
  if (known !== undefined || hosts.has(url)) return known;
  let host: string | undefined;
  try {
    host = new URL(url).host;
  } catch {
    host = undefined;
  }
  // Bounded: lists that keep changing never grow it past this, nor a long URL.
  if (url.length > 2048) return host;
  if (hosts.size >= 100_000) hosts.clear();
  hosts.set(url, host);
  return host;
}
