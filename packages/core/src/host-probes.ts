import type { ConnectionFactory } from "./connection.js";
import type { ResolvedEndpoint } from "./endpoint.js";

/** What {@link HostProbes} needs from the manager that owns it. */
export interface HostProbesContext {
  /** The factory's cheap check that a host answers; without one nothing is probed. */
  readonly probe: ConnectionFactory["probe"];
  /** Ms between probes of one host; 0 turns probing off. */
  interval(): number;
  /**
   * The endpoints of `host` waiting to retry, when every endpoint of it that should be up is
   * waiting; undefined when one is connected or trying (then there is nothing to probe for).
   */
  waiting(host: string): ResolvedEndpoint[] | undefined;
  /** `host` answered: bring its waiting endpoints forward. */
  answered(host: string): void;
}

/** A probe that has not answered within this long counts as a failed one. */
const probeTimeout = 2000;

/**
 * While every endpoint of a host is refused and waiting on its backoff, checks the host cheaply
 * (the factory's probe, a TCP connect for WebSocket) every `interval`, and brings the endpoints
 * forward as soon as it answers: a host back from an outage gets its endpoints back in about a
 * second, not after their grown backoff.
 *
 * A host that answers the probe but still refuses the endpoints (a proxy up, the service behind
 * it down) is probed once: the next probe waits until one of its endpoints connected again, so
 * a host that stays down sees no more attempts than the backoff makes. Or until an attempt finds
 * nothing answering there: the host went away since, and is probed until it is back.
 */
export class HostProbes {
  readonly #context: HostProbesContext;
  /** The hosts probed now, each with its timer or the probe under way. */
  readonly #probing = new Map<string, { timer?: ReturnType<typeof setTimeout>; abort?: AbortController }>();
  /** Hosts that answered a probe and have not had an endpoint connect since. */
  readonly #answered = new Set<string>();

  constructor(context: HostProbesContext) {
    this.#context = context;
  }

  /** Hosts being probed now. */
  get size(): number {
    return this.#probing.size;
  }

  /**
   * An endpoint of `host` is waiting to retry: probe the host unless that runs or cannot help.
   * `silent`: its attempt found nothing answering (refused, unreachable), so the host is down now
   * whatever it answered before.
   */
  waiting(host: string, silent = false): void {
    if (silent) this.#answered.delete(host);
    if (this.#context.probe === undefined || this.#context.interval() <= 0) return;
    if (this.#probing.has(host) || this.#answered.has(host)) return;
    const entry: { timer?: ReturnType<typeof setTimeout>; abort?: AbortController } = {};
    this.#probing.set(host, entry);
    this.#schedule(host, entry);
  }

  /** An endpoint of `host` connected: the host may be probed again after its next outage. */
  connected(host: string): void {
    this.#answered.delete(host);
  }

  /** Cancels every probe and timer. */
  stop(): void {
    for (const entry of this.#probing.values()) {
      clearTimeout(entry.timer);
      entry.abort?.abort();
    }
    this.#probing.clear();
    this.#answered.clear();
  }

  #schedule(host: string, entry: { timer?: ReturnType<typeof setTimeout>; abort?: AbortController }): void {
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.#probe(host, entry);
    }, this.#context.interval());
  }

  async #probe(host: string, entry: { timer?: ReturnType<typeof setTimeout>; abort?: AbortController }) {
    const endpoint = this.#context.waiting(host)?.[0];
    const probe = this.#context.probe;
    if (endpoint === undefined || probe === undefined || this.#context.interval() <= 0) {
      this.#probing.delete(host);
      return;
    }
    const abort = new AbortController();
    entry.abort = abort;
    const timer = setTimeout(() => abort.abort(), probeTimeout);
    let answered = false;
    try {
      await probe(endpoint, abort.signal);
      answered = !abort.signal.aborted;
    } catch {
      // Refused, unreachable or too slow: the host is still down.
    } finally {
      clearTimeout(timer);
      entry.abort = undefined;
    }
    if (this.#probing.get(host) !== entry) return;
    if (!answered) {
      this.#schedule(host, entry);
      return;
    }
    this.#probing.delete(host);
    this.#answered.add(host);
    this.#context.answered(host);
  }
}
