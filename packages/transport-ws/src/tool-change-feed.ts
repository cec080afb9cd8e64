import type { ToolSource } from "@xiaozhi-connect/core";

/** A link as the feed sees it: where its tools come from, and how it hears they changed. */
export interface ToolWatcher {
  readonly tools: ToolSource;
  onToolsChanged(): void;
}

/** Tool changes within this many ms of each other reach links as one. */
export const toolsChangeQuiet = 300;
/** A burst of changes reaches links no later than this after its first change, ms. */
export const toolsChangeMaxDelay = 2000;

interface Watch<L> {
  readonly links: Set<L>;
  readonly unsubscribe: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  firstAt: number;
}

/**
 * One subscription per ToolSource for every link served from it, however many there are, and a
 * burst of changes (services starting, several switches, a flapping service) coalesced into one
 * `onToolsChanged` per link: after `toolsChangeQuiet` ms without a change, or `toolsChangeMaxDelay`
 * after the first.
 */
export class ToolChangeFeed<L extends ToolWatcher> {
  readonly #watches = new Map<ToolSource, Watch<L>>();

  add(link: L): void {
    let watch = this.#watches.get(link.tools);
    if (!watch) {
      const created: Watch<L> = {
        links: new Set<L>(),
        unsubscribe: link.tools.onToolsChanged(() => this.#changed(created)),
        timer: undefined,
        firstAt: 0,
      };
      watch = created;
      this.#watches.set(link.tools, watch);
    }
    watch.links.add(link);
  }

  /** Stops watching for `link`; the source's subscription and timer go with its last link. */
  remove(link: L): void {
    const watch = this.#watches.get(link.tools);
    if (!watch?.links.delete(link) || watch.links.size > 0) return;
    watch.unsubscribe();
    clearTimeout(watch.timer);
    this.#watches.delete(link.tools);
  }

  /** Links watched, over every source. */
  get size(): number {
    let total = 0;
    for (const watch of this.#watches.values()) total += watch.links.size;
    return total;
  }

  #changed(watch: Watch<L>): void {
    const now = Date.now();
    if (watch.timer === undefined) watch.firstAt = now;
    else clearTimeout(watch.timer);
    const delay = Math.max(0, Math.min(toolsChangeQuiet, watch.firstAt + toolsChangeMaxDelay - now));
    watch.timer = setTimeout(() => {
      watch.timer = undefined;
      for (const link of watch.links) link.onToolsChanged();
    }, delay);
  }
}
