import {
  checkOption,
  type EndpointDescriptor,
  type Logger,
  positiveMsRule,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import {
  defaultHandshakeTimeout,
  isReplicated,
  type ReplicaConfig,
  type ServiceConfig,
} from "./service-config.js";

/** One replica as its service runs it: the `n` of its id `<service>#<n>`, its entry and weight. */
export interface ReplicaSlot {
  readonly index: number;
  readonly config: ReplicaConfig;
  readonly weight: number;
  /** The entry as compared with a new one: its fields in a fixed order, `weight` left out. */
  readonly key: string;
}

/** The replicas of a service, and the index the next one added gets. */
export interface ReplicaPlan {
  readonly slots: readonly ReplicaSlot[];
  readonly nextIndex: number;
}

/** The fields of a replicated service's entry that a running service applies without a restart. */
const appliedInPlace = new Set(["replicas", "strategy", "handshakeTimeout"]);

/** The id of a service's replica with index `n`. */
export function replicaId(service: string, index: number): string {
  return `${service}#${index}`;
}

/**
 * The replicas a service starts with, indexed 0, 1, 2… in the order of its entries (a plain service
 * is one replica). Throws `INVALID_CONFIG` for an empty list or a weight that is not a positive
 * finite number.
 */
export function firstReplicas(service: string, config: ServiceConfig): ReplicaPlan {
  return nextReplicas(service, { slots: [], nextIndex: 0 }, config);
}

/**
 * Matches a new list of entries with the replicas running: each entry takes, in order, a running
 * replica whose entry is the same (its weight aside) and not taken yet, and so keeps that one's
 * index, id and process; any other entry gets an index this service has not used yet, so a strategy
 * that keeps state by id never takes one replica for another. Throws as `firstReplicas` does.
 */
export function nextReplicas(service: string, running: ReplicaPlan, config: ServiceConfig): ReplicaPlan {
  const entries = isReplicated(config) ? config.replicas : [config];
  if (entries.length === 0) {
    throw new XiaozhiError("INVALID_CONFIG", `service ${service} declares an empty replicas list`);
  }
  const free = new Map<string, ReplicaSlot[]>();
  for (const slot of running.slots) free.set(slot.key, [...(free.get(slot.key) ?? []), slot]);
  let nextIndex = running.nextIndex;
  const slots = entries.map((entry, position): ReplicaSlot => {
    const weight = isReplicated(config) ? weightOf(service, position, entry) : 1;
    const key = entryKey(entry);
    const index = free.get(key)?.shift()?.index ?? nextIndex++;
    return { index, config: entry, weight, key };
  });
  return { slots, nextIndex };
}

/**
 * The handshake deadline of a service's replicas in ms: its `handshakeTimeout`, else the default.
 * Throws `INVALID_CONFIG` (`mcpServers.<service>.handshakeTimeout must be …`) for one that is not a
 * finite number of ms above 0, whether the service is new or changed in place.
 */
export function handshakeTimeoutOf(service: string, config: ServiceConfig): number {
  const timeout: unknown = config.handshakeTimeout;
  if (timeout === undefined) return defaultHandshakeTimeout;
  checkOption(`mcpServers.${service}.handshakeTimeout`, positiveMsRule, timeout);
  return timeout as number;
}

/**
 * The endpoints a service's ConnectionManager supervises, one per replica, its index as data. The
 * replicas of a replicated service are labelled `<service> replica <n>` however many there are,
 * so its log lines name the replica (`replica: n`) also once one is left.
 */
export function replicaEndpoints(
  service: string,
  slots: readonly ReplicaSlot[],
  replicated: boolean,
): EndpointDescriptor[] {
  return slots.map((slot) => ({
    id: replicaId(service, slot.index),
    label: replicated ? `${service} replica ${slot.index}` : service,
    data: slot.index,
    weight: slot.weight,
  }));
}

/**
 * True when a replicated service's entry `next` differs from `running` only in what the running
 * service applies in place: its `strategy`, `handshakeTimeout` and `replicas`. Anything else (the
 * entry is no longer replicated, a field besides those) rebuilds the service.
 */
export function changesInPlace(running: ServiceConfig, next: ServiceConfig): boolean {
  if (!isReplicated(running) || !isReplicated(next)) return false;
  const rest = (config: ServiceConfig) =>
    canonical(Object.fromEntries(Object.entries(config).filter(([field]) => !appliedInPlace.has(field))));
  return rest(running) === rest(next);
}

/** True when two entries say the same, written in whatever field order. */
export function sameConfig(a: ServiceConfig, b: ServiceConfig): boolean {
  return canonical(a) === canonical(b);
}

/** The weight of `replicas[position]`: 1 unless it names one, which must be positive and finite. */
function weightOf(service: string, position: number, entry: ReplicaConfig): number {
  const weight: unknown = entry.weight;
  if (weight === undefined) return 1;
  if (typeof weight === "number" && Number.isFinite(weight) && weight > 0) return weight;
  throw new XiaozhiError(
    "INVALID_CONFIG",
    `mcpServers.${service}.replicas[${position}].weight must be a positive finite number, got ${String(weight)}`,
  );
}

function entryKey(entry: ReplicaConfig): string {
  const { weight: _weight, ...rest } = entry;
  return canonical(rest);
}

/** JSON with every object's fields in sorted order: the same entry written another way compares equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_field, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** The manager's log lines, about a service rather than an endpoint. */
export function serviceLogger(logger: Logger, service: string): Logger {
  const wrap =
    (level: keyof Logger) =>
    (object: Record<string, unknown> | string, message?: string): void => {
      if (typeof object === "string") {
        logger[level]({ service }, object.replace(/^endpoint\b/, "service"));
        return;
      }
      const { endpoint, id: _id, ...rest } = object;
      const replica = typeof endpoint === "string" ? Number(endpoint.split(" ").pop()) : Number.NaN;
      logger[level](
        { service, ...(Number.isInteger(replica) ? { replica } : {}), ...rest },
        message?.replace(/^endpoint\b/, "service"),
      );
    };
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}
