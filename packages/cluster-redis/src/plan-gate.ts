import type { Plan, Snapshot } from "./planner.js";

/**
 * Lets a tick skip planning when the last plan did nothing and nothing it read has changed since:
 * the same list, the same leases and holdings (`version`), the same live instances avoiding the
 * same endpoints, the same ones still joining. A plan passed over the whole list (it still does
 * without the lease index); a steady cluster of ten thousand endpoints spent most of its CPU there.
 * Whatever depends on time runs the
 * plan every tick: an endpoint free (its wait grows) or handed here, one that cannot be served
 * here, the grace after Redis came back, and a list still settling or an instance joining.
 */
export class PlanGate {
  #quiet: { readonly listed: ReadonlySet<string>; readonly key: string } | undefined;

  /** Whether `snapshot`, read at `version` of the holdings, would plan what the last quiet plan did. */
  quiet(snapshot: Snapshot, version: number): boolean {
    const key = keyOf(snapshot, version);
    return key !== undefined && this.#quiet?.listed === snapshot.listed && this.#quiet.key === key;
  }

  /** Records the plan made from `snapshot` at `version`. */
  planned(snapshot: Snapshot, version: number, next: Plan): void {
    const idle =
      next.lost.length + next.adopt.length + next.release.length + next.acquire.length === 0 &&
      next.freeSince.size === 0;
    const key = idle ? keyOf(snapshot, version) : undefined;
    this.#quiet = key === undefined ? undefined : { listed: snapshot.listed, key };
  }
}

/** What a quiet snapshot's plan reads besides the list, as a string; undefined when time matters. */
function keyOf(snapshot: Snapshot, version: number): string | undefined {
  if (snapshot.settling || snapshot.joining || snapshot.grace) return undefined;
  if (snapshot.unservable.size > 0 || snapshot.freeSince.size > 0 || (snapshot.given?.size ?? 0) > 0)
    return undefined;
  let key = `${version};${[...(snapshot.joiningPeers ?? [])].sort().join(",")}`;
  // By instance id: the live instances come in the order Redis lists them, which changes from
  // one heartbeat to the next, and a plan does not depend on it.
  const live = [...snapshot.live].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, avoids] of live) key += `;${id}:${[...avoids].join(",")}`;
  return key;
}
