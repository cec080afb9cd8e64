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
  readonly peers: { status(holder: string, id: string): EndpointStatus | undefined };
}

/** Every listed endpoint as {@link endpointView} shows it, `local` being what runs here. */
export function endpointsView(source: ViewSource, local: readonly EndpointStatus[]): ClusterEndpointStatus[] {
  const here = new Map(local.map((s) => [s.id, s]));
  return [...source.list.desired.values()].map((shown) => shownView(source, shown, here.get(shown.id)));
}

/** One listed endpoint as {@link endpointView} shows it, or `undefined` when it is not listed. */
export function listedView(
  source: ViewSource,
  id: string,
  local: EndpointStatus | undefined,
): ClusterEndpointStatus | undefined {
  const shown = source.list.desired.get(id);
  return shown ? shownView(source, shown, local) : undefined;
}

function shownView(
  source: ViewSource,
  shown: ListedEndpoint,
  local: EndpointStatus | undefined,
): ClusterEndpointStatus {
  const holder = source.holdings.holders.get(shown.id);
  const remote = holder ? source.peers.status(holder, shown.id) : undefined;
  return endpointView(shown, local, source.self, holder, remote);
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
): ClusterEndpointStatus {
  if (local) return { ...local, instance: self };
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

/** The instances panel: each live instance with the endpoints it holds and its last heartbeat. */
export function instancesView(
  live: ReadonlyMap<string, LiveMember>,
  holders: ReadonlyMap<string, string>,
  self: { readonly id: string; readonly address: string | null; readonly held: number },
): ClusterInstance[] {
  const counts = new Map<string, number>();
  for (const holder of holders.values()) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  return [...live].map(([id, member]) => ({
    id,
    address: id === self.id ? self.address : member.address,
    startedAt: member.startedAt,
    endpoints: id === self.id ? self.held : (counts.get(id) ?? 0),
    heartbeatAt: member.deadline - member.ttl,
    self: id === self.id,
  }));
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
