/**
 * Which instance should hold each endpoint: rendezvous (highest random weight) hashing with bounded
 * loads. Every instance computes the same answer from the same live instances and endpoint ids, with
 * no talk between them. An endpoint goes to the instance that scores highest for it unless that one
 * already holds its share (loads differ by one at most), so the spread is even; when an instance
 * joins or leaves, about the endpoints that must move are the ones that move.
 */
export function assignEndpoints(
  endpoints: readonly string[],
  instances: readonly string[],
): Map<string, string> {
  const owners = new Map<string, string>();
  if (instances.length === 0) return owners;
  const order = [...new Set(endpoints)].sort((a, b) => hash(a) - hash(b) || (a < b ? -1 : a > b ? 1 : 0));
  // Each instance holds `floor` endpoints, and `extra` of them one more: loads differ by one at most.
  const floor = Math.floor(order.length / instances.length);
  let extra = order.length % instances.length;
  const load = new Map<string, number>();
  // A fixed order (by the endpoint's own hash) decides who gets the last place of a full instance.
  for (const endpoint of order) {
    for (const instance of preference(endpoint, instances)) {
      const held = load.get(instance) ?? 0;
      if (held < floor || (held === floor && extra > 0)) {
        if (held === floor) extra--;
        owners.set(endpoint, instance);
        load.set(instance, held + 1);
        break;
      }
    }
  }
  return owners;
}

/** The instances in the order `endpoint` prefers them (highest score first; ties by id). */
export function preference(endpoint: string, instances: readonly string[]): string[] {
  return instances
    .map((instance) => ({ instance, score: hash(`${instance}\n${endpoint}`) }))
    .sort((a, b) => b.score - a.score || (a.instance < b.instance ? -1 : 1))
    .map((entry) => entry.instance);
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so close strings land far apart. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
