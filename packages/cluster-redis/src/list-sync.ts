import type { Logger } from "@xiaozhi-connect/core";
import type { ListKnowledge } from "./list-knowledge.js";
import type { BeatResult, ListStore } from "./stores.js";

/**
 * Brings the list known here in step with Redis's, as a tick does: reads it when its identity
 * changed; seeds it when Redis has none (from the list known here, or the config file); restores
 * the one known here over one Redis is still settling that knows less (a file's, an older version).
 * Returns whether the list is settling (nothing may be taken) and whether the one known here changed.
 */
export async function syncList(
  list: ListKnowledge,
  store: ListStore,
  identity: Extract<BeatResult, { taken: false }>["list"],
  now: number,
  options: { readonly newEpoch: () => string; readonly settleMs: number; readonly logger: Logger },
): Promise<{ settling: boolean; changed: boolean }> {
  let settling = identity !== undefined && now < identity.settleUntil;
  if (identity && list.same(identity)) return { settling, changed: false };
  let stored = identity ? await store.read() : undefined;
  if (!stored || (now < stored.settleUntil && list.knowsMore(stored))) {
    const seed = list.seed(options.newEpoch);
    if (await store.seed(seed, options.settleMs)) {
      const from = list.epoch ? "the list known here" : "the config file";
      options.logger.info({ endpoints: seed.entries.length, from }, "cluster: seeded the endpoint list");
    }
    stored = await store.read();
    settling = true;
  }
  return { settling, changed: stored !== undefined && list.adopt(stored) };
}
