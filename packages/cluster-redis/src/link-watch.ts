import type { EndpointStatus } from "@xiaozhi-connect/core";

/** The longest an instance stays out of the running for an endpoint it could not serve, ms. */
const maxAvoid = 10 * 60_000;

/**
 * Which endpoints held here this instance cannot serve: their links have been down for half a
 * lease while another instance keeps a link up to the same host, so the fault is on this
 * instance's path, not the agent's side. Those are let go, and this instance stays out of the
 * running for them for a while (four leases, doubling each time it happens again, at most ten
 * minutes), so they do not come straight back. When no other instance reaches the host, the
 * agent's side is down for everyone: the holder keeps the endpoint and keeps reconnecting.
 */
export class LinkWatch {
  readonly #downSince = new Map<string, number>();
  readonly #upSince = new Map<string, number>();
  readonly #avoidUntil = new Map<string, number>();
  readonly #strikes = new Map<string, number>();

  constructor(private readonly leaseTtl: number) {}

  /**
   * Looks at the links of the endpoints held here; returns those to let go. `reached(host)` says
   * whether another instance has a link up to that host now.
   */
  observe(
    now: number,
    held: Iterable<string>,
    local: readonly EndpointStatus[],
    reached: (host: string) => boolean,
  ): Set<string> {
    const statuses = new Map(local.map((s) => [s.id, s]));
    const unservable = new Set<string>();
    const seen = new Set<string>();
    for (const id of held) {
      seen.add(id);
      const status = statuses.get(id);
      if (status?.connected) {
        this.#downSince.delete(id);
        const up = this.#upSince.get(id) ?? now;
        this.#upSince.set(id, up);
        // A link that stays up for a lease clears the record of earlier give-ups.
        if (now - up >= this.leaseTtl) this.#strikes.delete(id);
        continue;
      }
      this.#upSince.delete(id);
      // A link that failed for good (a rejected token) fails the same anywhere: moving it helps nobody.
      if (status?.state === "failed") {
        this.#downSince.delete(id);
        continue;
      }
      const down = this.#downSince.get(id) ?? now;
      this.#downSince.set(id, down);
      const host = status ? hostOf(status.url) : undefined;
      if (now - down >= this.leaseTtl / 2 && host !== undefined && reached(host)) unservable.add(id);
    }
    for (const map of [this.#downSince, this.#upSince]) {
      for (const id of map.keys()) if (!seen.has(id)) map.delete(id);
    }
    return unservable;
  }

  /** These endpoints were let go because they could not be served here. */
  gaveUp(ids: Iterable<string>, now: number): void {
    for (const id of ids) {
      const strikes = (this.#strikes.get(id) ?? 0) + 1;
      this.#strikes.set(id, strikes);
      this.#avoidUntil.set(id, now + Math.min(maxAvoid, 4 * this.leaseTtl * 2 ** (strikes - 1)));
      this.#downSince.delete(id);
    }
  }

  /** The endpoints this instance stays out of the running for now. */
  avoiding(now: number): Set<string> {
    for (const [id, until] of this.#avoidUntil) if (until <= now) this.#avoidUntil.delete(id);
    return new Set(this.#avoidUntil.keys());
  }
}

/** The host (and port) of a URL, masked or not; undefined when it is not one. */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
