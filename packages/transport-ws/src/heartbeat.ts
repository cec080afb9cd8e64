/** Timings of the WebSocket heartbeat, in ms. */
export interface HeartbeatOptions {
  /** A ping is sent this long after the previous one was answered; default 30000. */
  readonly interval: number;
  /** A ping unanswered this long ends the link; default 10000. */
  readonly timeout: number;
}

/** What a connection registers with the heartbeat. */
export interface HeartbeatTarget {
  /** Send a WebSocket ping now. */
  ping(): void;
  /** The last ping went unanswered for `timeout`: the link is dead. */
  expired(): void;
}

/** A connection's registration: report proof of life, or leave. */
export interface HeartbeatHandle {
  /** A pong or any frame arrived: the link is alive. */
  alive(): void;
  unregister(): void;
}

/** A registered socket; it is also the handle its connection holds, so a socket costs one object. */
class Slot implements HeartbeatHandle {
  awaitingSince: number | undefined;

  constructor(
    readonly wheel: HeartbeatWheel,
    readonly target: HeartbeatTarget,
    public lastPingAt: number,
  ) {}

  alive(): void {
    this.awaitingSince = undefined;
  }

  unregister(): void {
    this.wheel.unregister(this);
  }
}

export const defaultHeartbeat: HeartbeatOptions = Object.freeze({ interval: 30_000, timeout: 10_000 });

/**
 * One timer for the heartbeats of every socket, instead of one or two timers per socket. It ticks at a
 * tenth of the shorter timing and acts up to one tick early, so a ping goes out within `interval`
 * and a silent link is ended within `interval + timeout` of its last proof of life. The timer runs only
 * while some socket is registered.
 */
export class HeartbeatWheel {
  readonly #slots = new Set<Slot>();
  #options: HeartbeatOptions;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    options: Partial<HeartbeatOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.#options = { ...defaultHeartbeat, ...options };
  }

  get options(): HeartbeatOptions {
    return this.#options;
  }

  /** Registered sockets. */
  get size(): number {
    return this.#slots.size;
  }

  /** Applies new timings to every registered socket from the next tick on. */
  configure(options: Partial<HeartbeatOptions>): void {
    this.#options = { ...this.#options, ...options };
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#ensureTimer();
    }
  }

  register(target: HeartbeatTarget): HeartbeatHandle {
    const slot = new Slot(this, target, this.now());
    this.#slots.add(slot);
    this.#ensureTimer();
    return slot;
  }

  /** Forgets one socket; `handle.unregister()` does the same. */
  unregister(handle: HeartbeatHandle): void {
    if (handle instanceof Slot) this.#remove(handle);
  }

  /** Forgets every socket and stops the timer. */
  stop(): void {
    this.#slots.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tickMs(): number {
    return Math.max(5, Math.floor(Math.min(this.#options.interval, this.#options.timeout) / 10));
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined || this.#slots.size === 0) return;
    this.#timer = setInterval(() => this.#tick(), this.#tickMs());
  }

  #remove(slot: Slot): void {
    this.#slots.delete(slot);
    if (this.#slots.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    const now = this.now();
    const early = this.#tickMs();
    const { interval, timeout } = this.#options;
    for (const slot of this.#slots) {
      if (slot.awaitingSince !== undefined) {
        if (now >= slot.awaitingSince + timeout - early) {
          this.#remove(slot);
          slot.target.expired();
        }
      } else if (now >= slot.lastPingAt + interval - early) {
        slot.lastPingAt = now;
        slot.awaitingSince = now;
        slot.target.ping();
      }
    }
  }
}
