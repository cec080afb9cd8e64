import type { EndpointStatus } from "@xiaozhi-connect/core";
import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";

const none: ReadonlyMap<string, EndpointStatus> = new Map();

/**
 * What runs here, as the host last showed each endpoint, by id: read again only for the endpoints
 * said to have changed, and whole when a change did not say which endpoint, when the host cannot
 * read one, and every `every` ms. While a batch of links connects, a tick then reads the fifty that
 * changed rather than building the status of every endpoint run here.
 */
export class LocalStatuses {
  readonly #byId = new Map<string, EndpointStatus>();
  readonly #stale = new Set<string>();
  #whole = true;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly every: number) {}

  /** The status of endpoint `id` changed, or of any when undefined. */
  touch(id?: string): void {
    if (id === undefined) this.#whole = true;
    else this.#stale.add(id);
  }

  /** Every endpoint `host` runs, up to date with what it was told. */
  read(host: ClusterHost | undefined, now: number): ReadonlyMap<string, EndpointStatus> {
    if (!host) return none;
    if (this.#whole || !host.status || now - this.#readAt >= this.every) {
      this.#byId.clear();
      for (const status of host.statuses()) this.#byId.set(status.id, status);
      this.#whole = false;
      this.#readAt = now;
    } else {
      for (const id of this.#stale) {
        const status = host.status(id);
        if (status) this.#byId.set(id, status);
        else this.#byId.delete(id);
      }
    }
    this.#stale.clear();
    return this.#byId;
  }
}
