import type { Tool } from "@modelcontextprotocol/sdk/types.js";

/** Where a `ToolsHold` reads the service it lists the tools of. */
export interface ToolsHoldSource {
  /** The tools of a replica that is up, or undefined while none is. */
  live(): readonly Tool[] | undefined;
  /** True while the service is stopped: nothing is held then. */
  stopped(): boolean;
  /** Told whenever the offered list really changed. */
  onChanged?: (() => void) | undefined;
}

/**
 * A service's tools as offered: those of a replica that is up; while none is and the service
 * restarts, those last announced during `ms` (from the drop until a replica is up again, the
 * service stops, or `ms` has passed: then they go). The listener hears only of real changes of the
 * offered list, not of every replica flap.
 */
export class ToolsHold {
  /** How long tools are held after a drop, ms; 0 drops them at once. Applies from the next drop. */
  ms: number;
  readonly #source: ToolsHoldSource;
  /** The list last announced, and as JSON. */
  #announced = "[]";
  #announcedTools: readonly Tool[] = [];
  #held: readonly Tool[] | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The hold ran out during this outage: no new one until a replica is up again. */
  #expired = false;

  constructor(ms: number, source: ToolsHoldSource) {
    this.ms = ms;
    this.#source = source;
  }

  /** The tools offered now. */
  get tools(): readonly Tool[] {
    return this.#source.live() ?? this.#held ?? [];
  }

  /** True while tools are listed from before a drop, no replica being up. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Re-reads the service after a replica's state or tools changed: holds, releases, announces. */
  changed(): void {
    this.#hold();
    const tools = this.tools;
    const now = JSON.stringify(tools);
    if (now === this.#announced) return;
    this.#announced = now;
    this.#announcedTools = tools;
    this.#source.onChanged?.();
  }

  /** Drops the held tools now (the service stops). */
  release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = undefined;
  }

  #hold(): void {
    if (this.#source.stopped() || this.#source.live() !== undefined) {
      this.release();
      this.#expired = false;
      return;
    }
    if (this.#held !== undefined || this.#expired || this.ms <= 0) return;
    if (this.#announcedTools.length === 0) return;
    this.#held = this.#announcedTools;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#held = undefined;
      this.#expired = true;
      this.changed();
    }, this.ms);
    this.#timer.unref?.();
  }
}
