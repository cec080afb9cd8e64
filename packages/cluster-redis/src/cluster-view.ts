import type { EndpointStatus } from "@xiaozhi-connect/core";
import type {
  ClusterEndpointStatus,
  ClusterInstance,
  ListedEndpoint,
} from "@xiaozhi-connect/webserver-adapter";
import type { LiveMember } from "./stores.js";

/** Where the endpoints' view is read from: the list, who holds what, and what holders published. */
export interface ViewSource {
  readonly self: string;
  readonly list: { readonly desired: ReadonlyMap<string, ListedEndpoint> };
  readonly holdings: { readonly holders: ReadonlyMap<string, string> };
  readonly peers: {
    status(holder: string, id: string): EndpointStatus | undefined;
    /** The last heartbeat (Redis's epoch ms) of an instance that stopped beating; undefined while it beats. */
    silentSince(holder: string): number | undefined;
  };
}

/**
 * An endpoint as the view shows it. `here`: this instance runs it (what `/api/status` says of the
 * tools it gives applies to it). The endpoints of an instance that stopped beating show as listed,
 * not as it last published them: with `lastError` saying their links are not confirmed, since that
 * instance's last heartbeat (`lastErrorAt`), until its leases run out and another takes them.
 */
export type EndpointView = ClusterEndpointStatus;

/** An instance of the panel; this one while it waits for its id: `idHeldUntil`, on Redis's clock. */
export type InstanceView = ClusterInstance;

/** Every listed endpoint as {@link endpointView} shows it, `local` being what runs here. */
export function endpointsView(source: ViewSource, local: readonly EndpointStatus[]): EndpointView[] {
  const here = new Map(local.map((s) => [s.id, s]));
  return [...source.list.desired.values()].map((shown) => shownView(source, shown, here.get(shown.id)));
}

/** One listed endpoint as {@link endpointView} shows it, or `undefined` when it is not listed. */
export function listedView(
  source: ViewSource,
  id: string,
  local: EndpointStatus | undefined,
): EndpointView | undefined {
  const shown = source.list.desired.get(id);
  return shown ? shownView(source, shown, local) : undefined;
}

function shownView(
  source: ViewSource,
  shown: ListedEndpoint,
  local: EndpointStatus | undefined,
): EndpointView {
  const holder = source.holdings.holders.get(shown.id);
  const silent = holder === undefined || local ? undefined : source.peers.silentSince(holder);
  const remote = holder && silent === undefined ? source.peers.status(holder, shown.id) : undefined;
  const view = endpointView(shown, local, source.self, holder, remote);
  if (silent === undefined) return view;
  return {
    ...view,
    lastError: `not confirmed: instance ${holder} has stopped sending heartbeats`,
    lastErrorAt: silent,
  };
}

/**
 * One endpoint as every instance shows it: as it runs here, else as its holder published it,
 * else as listed, disconnected, with the holder (or `null` while none holds it).
 */
export function endpointView(
  shown: ListedEndpoint,
  local: EndpointStatus | undefined,
  self: string,
  holder: string | undefined,
  remote: EndpointStatus | undefined,
): EndpointView {
  if (local) return { ...local, instance: self, here: true };
  if (remote && holder) return { ...remote, instance: holder };
  return {
    id: shown.id,
    url: shown.url,
    ...(shown.name === undefined ? {} : { name: shown.name }),
    state: "disconnected",
    connected: false,
    initialized: false,
    reconnectAttempts: 0,
    republishing: false,
    healthScore: 0,
    weight: shown.weight,
    inflight: 0,
    instance: holder ?? null,
  };
}

/**
 * The instances panel: each live instance with the endpoints it holds and its last heartbeat. While
 * this instance waits for its id (`self.waiting`: the process that has it), it shows too, holding
 * nothing, with the last heartbeat under that id and when that one's lease ends.
 */
export function instancesView(
  live: ReadonlyMap<string, LiveMember>,
  holders: ReadonlyMap<string, string>,
  self: {
    readonly id: string;
    readonly address: string | null;
    readonly held: number;
    readonly startedAt: number;
    readonly waiting: LiveMember | undefined;
  },
): InstanceView[] {
  const counts = new Map<string, number>();
  for (const holder of holders.values()) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  const { waiting } = self;
  // While the id is held by another process, the live set (read before or by it) is no word of
  // this one: its row is built from the holder's heartbeat.
  const others = waiting ? [...live].filter(([id]) => id !== self.id) : [...live];
  const shown: InstanceView[] = others.map(([id, member]) => ({
    id,
    address: id === self.id ? self.address : member.address,
    startedAt: member.startedAt,
    endpoints: id === self.id ? self.held : (counts.get(id) ?? 0),
    heartbeatAt: member.deadline - member.ttl,
    self: id === self.id,
  }));
  if (!waiting) return shown;
  return [
    ...shown,
    {
      id: self.id,
      address: self.address,
      startedAt: self.startedAt,
      endpoints: 0,
      heartbeatAt: waiting.deadline - waiting.ttl,
      self: true,
      idHeldUntil: waiting.deadline,
    },
  ];
}

/** A Redis URL without its password: `redis://user:***@host:6379/0`. */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "redis://(invalid)";
  }
}
