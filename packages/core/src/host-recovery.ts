import type { Connection, ConnectionFactory } from "./connection.js";
import type { ResolvedEndpoint } from "./endpoint.js";
import { hostOf } from "./endpoint-list.js";
import type { EndpointSupervisor } from "./endpoint-supervisor.js";
import { HostProbes } from "./host-probes.js";
import type { ManagerSettings } from "./settings.js";

/**
 * Node's codes for a connect where nothing at the host answered: a refused or unreachable
 * address, a name that did not resolve. A host that answered and then refused (a close code, an
 * HTTP status, whatever words came with them) is up, and its endpoints' backoff paces them.
 */
const silentCodes = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Whether a failed attempt's error (or one of its causes) says nothing at the host answered. */
export function nothingAnswered(error: unknown): boolean {
  let at: unknown = error;
  for (let depth = 0; depth < 5 && typeof at === "object" && at !== null; depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === "string" && silentCodes.has(code)) return true;
    at = (at as { cause?: unknown }).cause;
  }
  return false;
}

/** How far apart, on average, the endpoints of a host that is back are brought forward, ms. */
const recoverySpacing = 2;

/** What {@link HostRecovery} needs from the manager that owns it. */
export interface HostRecoveryContext<C extends Connection> {
  /** Every endpoint's supervisor, as now. */
  supervisors(): Iterable<EndpointSupervisor<C>>;
  settings(): ManagerSettings;
  readonly now: () => number;
  readonly random: () => number;
  /** The factory's cheap check that a host answers; without one nothing is probed. */
  readonly probe: ConnectionFactory["probe"];
}

/**
 * Brings a host's endpoints back together after an outage: when one of its links is up again,
 * or a probe finds the host answering while all of them wait on their backoff, the waiting ones
 * retry within `recoveryWindow` rather than after their grown backoff.
 */
export class HostRecovery<C extends Connection> {
  readonly #context: HostRecoveryContext<C>;
  /** When each host last had its waiting endpoints brought forward (see `recoveryWindow`). */
  readonly #recoveredAt = new Map<string, number>();
  /** Hosts whose every endpoint is refused, probed until they answer. */
  readonly #probes: HostProbes;

  constructor(context: HostRecoveryContext<C>) {
    this.#context = context;
    this.#probes = new HostProbes({
      probe: context.probe,
      interval: () => (context.settings().recoveryWindow > 0 ? context.settings().probeInterval : 0),
      waiting: (host) => this.#waitingOn(host),
      answered: (host) => this.#bringForward(host, context.now()),
    });
  }

  /**
   * A link to `endpoint`'s host is up again: the other endpoints of that host waiting to retry try
   * soon (see {@link bringForward}). Once per window per host, so a thousand links coming back
   * cost one pass.
   */
  connected(endpoint: ResolvedEndpoint): void {
    const window = this.#context.settings().recoveryWindow;
    const host = hostOf(endpoint);
    if (host === undefined) return;
    this.#probes.connected(host);
    if (window <= 0) return;
    const now = this.#context.now();
    const last = this.#recoveredAt.get(host);
    if (last !== undefined && now - last < window) return;
    this.#bringForward(host, now);
  }

  /**
   * An endpoint is waiting to retry, its last attempt having found nothing answering (`silent`) or
   * not: when its whole host is waiting, the host is probed.
   */
  waiting(endpoint: ResolvedEndpoint, silent = false): void {
    const host = hostOf(endpoint);
    if (host !== undefined) this.#probes.waiting(host, silent);
  }

  /** Cancels every probe and timer. */
  stop(): void {
    this.#probes.stop();
  }

  /**
   * The endpoints of `host` waiting to retry try within `recoveryWindow`, each at a random point
   * of a spread of about 2 ms per endpoint (at most the window): a thousand are spread over two
   * seconds, three come back at once.
   */
  #bringForward(host: string, now: number): void {
    this.#recoveredAt.set(host, now);
    const waiting: EndpointSupervisor<C>[] = [];
    for (const supervisor of this.#context.supervisors()) {
      if (supervisor.state === "reconnecting" && hostOf(supervisor.endpoint) === host)
        waiting.push(supervisor);
    }
    const spread = Math.min(this.#context.settings().recoveryWindow, waiting.length * recoverySpacing);
    for (const supervisor of waiting) supervisor.hasten(now + Math.floor(this.#context.random() * spread));
  }

  /** The endpoints of `host` waiting to retry, unless one of them is connected or trying. */
  #waitingOn(host: string): ResolvedEndpoint[] | undefined {
    const waiting: ResolvedEndpoint[] = [];
    for (const supervisor of this.#context.supervisors()) {
      if (hostOf(supervisor.endpoint) !== host) continue;
      const state = supervisor.state;
      if (state === "connected" || state === "connecting") return undefined;
      if (state === "reconnecting") waiting.push(supervisor.endpoint);
    }
    return waiting.length > 0 ? waiting : undefined;
  }
}
