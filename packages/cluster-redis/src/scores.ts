/**
 * Rendezvous (highest random weight) scores: how much an instance is preferred for an endpoint, the
 * same on every instance, from a hash of both names.
 */

/** The instances in the order `endpoint` prefers them (highest score first; ties by id). */
export function preference(endpoint: string, instances: readonly string[]): string[] {
  const scored = instances.map((instance) => ({ instance, score: score(instance, endpoint) }));
  scored.sort((a, b) => b.score - a.score || compare(a.instance, b.instance));
  return scored.map((s) => s.instance);
}

/** How much `instance` is preferred for `endpoint`: a hash of both. */
export function score(instance: string, endpoint: string): number {
  return scoreFrom(seedOf(instance), endpoint);
}

/** The part of every score of `instance` that does not depend on the endpoint. */
export function seedOf(instance: string): number {
  return mix(mix(0x811c9dc5, instance), "\n");
}

/** `score(instance, endpoint)` from `seedOf(instance)`: hash(`${instance}\n${endpoint}`), without building the string. */
export function scoreFrom(seed: number, endpoint: string): number {
  return finish(mix(seed, endpoint));
}

/** `endpoints` in the order of their own hash (ties by id). */
export function byHash(endpoints: readonly string[]): string[] {
  const hashed = endpoints.map((endpoint) => ({ endpoint, hash: hash(endpoint) }));
  hashed.sort((a, b) => a.hash - b.hash || compare(a.endpoint, b.endpoint));
  return hashed.map((h) => h.endpoint);
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so close strings land far apart. */
function hash(text: string): number {
  return finish(mix(0x811c9dc5, text));
}

function mix(start: number, text: string): number {
  let h = start;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

function finish(start: number): number {
  let h = start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
