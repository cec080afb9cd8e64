import type { HealthObservation, HealthReport, HealthScorer } from "@xiaozhi-connect/core";

/** Scoring and ejection settings; every field has a default. Times in ms. */
export interface HealthScoreOptions {
  /** EWMA factor for round-trip times; default 0.3. */
  readonly rttAlpha: number;
  /** RTT at or below this costs nothing; default 50. */
  readonly rttGood: number;
  /** RTT at or above this costs the full `rttWeight`; default 1000. */
  readonly rttBad: number;
  /** Most points slow round trips can cost; default 30. */
  readonly rttWeight: number;
  /** EWMA factor of the failure rate (success 0, failure 1); default 0.2. */
  readonly failureAlpha: number;
  /** Points a 100 % failure rate costs; default 40. */
  readonly failureWeight: number;
  /** Closes within this window count as flaps; default 60000. */
  readonly flapWindow: number;
  /** Points per flap, up to `flapMax`; defaults 10 and 20. */
  readonly flapPenalty: number;
  readonly flapMax: number;
  /** No sign of life for this long costs `stalePenalty`; defaults 90000 and 10. */
  readonly staleAfter: number;
  readonly stalePenalty: number;
  /** Consecutive failures that eject; default 5. */
  readonly consecutiveFailures: number;
  /** First ejection lasts this; each repeat adds as much, up to `maxEjectionTime`. Defaults 30000 and 300000. */
  readonly baseEjectionTime: number;
  readonly maxEjectionTime: number;
  /** Most of the connected share that may be ejected at once (at least one); default 0.5. */
  readonly maxEjectionShare: number;
}

export const defaultHealthScoreOptions: HealthScoreOptions = Object.freeze({
  rttAlpha: 0.3,
  rttGood: 50,
  rttBad: 1000,
  rttWeight: 30,
  failureAlpha: 0.2,
  failureWeight: 40,
  flapWindow: 60_000,
  flapPenalty: 10,
  flapMax: 20,
  staleAfter: 90_000,
  stalePenalty: 10,
  consecutiveFailures: 5,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  maxEjectionShare: 0.5,
});

interface Track {
  connected: boolean;
  rttEwma: number | undefined;
  failureRate: number;
  consecutiveFailures: number;
  closes: number[];
  lastAlive: number;
  ejectedUntil: number | undefined;
  ejections: number;
  readmittedAt: number;
}

export type EjectionListener = (id: string, ejected: boolean, reason: string) => void;

/**
 * The default HealthScorer: a 0–100 score from real signals (RTT as an EWMA, the recent failure rate,
 * flaps, staleness), whose parts are reported, and outlier ejection: consecutive failures eject for a
 * time that grows with each repeat (capped) and shrinks back while the connection behaves; never more
 * than `maxEjectionShare` of the connected ones at once. One timer readmits, only while something is
 * ejected.
 */
export class HealthScoreBoard implements HealthScorer {
  readonly specificationVersion = "v1" as const;
  readonly #tracks = new Map<string, Track>();
  readonly #listeners = new Set<EjectionListener>();
  #options: HealthScoreOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    options: Partial<HealthScoreOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.#options = { ...defaultHealthScoreOptions, ...options };
  }

  get options(): HealthScoreOptions {
    return this.#options;
  }

  observe(id: string, o: HealthObservation): void {
    const t = this.#track(id);
    const { rttAlpha, failureAlpha } = this.#options;
    switch (o.kind) {
      case "connected":
        t.connected = true;
        t.lastAlive = o.at;
        break;
      case "closed":
        t.connected = false;
        t.closes.push(o.at);
        this.#pruneCloses(t, o.at);
        break;
      case "connectFailed":
        break;
      case "rtt":
        t.rttEwma = t.rttEwma === undefined ? o.ms : t.rttEwma + rttAlpha * (o.ms - t.rttEwma);
        this.#succeeded(t, o.at);
        break;
      case "success":
        this.#succeeded(t, o.at);
        break;
      case "failure":
        t.failureRate += failureAlpha * (1 - t.failureRate);
        t.consecutiveFailures++;
        if (t.consecutiveFailures >= this.#options.consecutiveFailures && t.ejectedUntil === undefined) {
          this.#eject(id, t, o.at);
        }
        break;
      case "frame":
        t.lastAlive = o.at;
        break;
    }
  }

  /** The report's score without building the report: this runs on every dispatch. */
  score(id: string): number {
    const t = this.#tracks.get(id);
    if (!t?.connected) return 0;
    return total(this.#parts(t, this.now()));
  }

  isEjected(id: string): boolean {
    return this.#tracks.get(id)?.ejectedUntil !== undefined;
  }

  report(id: string): HealthReport {
    const t = this.#tracks.get(id);
    if (!t?.connected)
      return { score: 0, ejected: t?.ejectedUntil !== undefined, parts: { disconnected: -100 } };
    const parts = this.#parts(t, this.now());
    const { rtt, failures, flaps, staleness } = parts;
    const score = total(parts);
    return {
      score,
      ejected: t.ejectedUntil !== undefined,
      ...(t.ejectedUntil === undefined ? {} : { ejectedUntil: t.ejectedUntil }),
      parts: { rtt: -round1(rtt), failures: -round1(failures), flaps: -flaps, staleness: -staleness },
    };
  }

  remove(id: string): void {
    const t = this.#tracks.get(id);
    this.#tracks.delete(id);
    if (t?.ejectedUntil !== undefined) this.#schedule();
  }

  onEjectionChanged(listener: EjectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ids ejected right now. */
  ejected(): string[] {
    return [...this.#tracks].filter(([, t]) => t.ejectedUntil !== undefined).map(([id]) => id);
  }

  /** Applies new settings (numbers named as in `HealthScoreOptions`); others are ignored. */
  configure(settings: Readonly<Partial<Record<keyof HealthScoreOptions, unknown>>>): void {
    const next: Record<string, number> = { ...this.#options };
    for (const key of Object.keys(defaultHealthScoreOptions) as (keyof HealthScoreOptions)[]) {
      const value = settings[key];
      if (typeof value === "number" && Number.isFinite(value)) next[key] = value;
    }
    this.#options = Object.freeze(next as unknown as HealthScoreOptions);
  }

  /** Stops the readmission timer and drops listeners. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #track(id: string): Track {
    let t = this.#tracks.get(id);
    if (!t) {
      t = {
        connected: false,
        rttEwma: undefined,
        failureRate: 0,
        consecutiveFailures: 0,
        closes: [],
        lastAlive: this.now(),
        ejectedUntil: undefined,
        ejections: 0,
        readmittedAt: this.now(),
      };
      this.#tracks.set(id, t);
    }
    return t;
  }

  #succeeded(t: Track, at: number): void {
    t.failureRate -= this.#options.failureAlpha * t.failureRate;
    t.consecutiveFailures = 0;
    t.lastAlive = at;
  }

  /** What each signal costs a connected track now, in points. */
  #parts(t: Track, now: number): Parts {
    const o = this.#options;
    this.#pruneCloses(t, now);
    return {
      rtt:
        t.rttEwma === undefined ? 0 : o.rttWeight * clamp01((t.rttEwma - o.rttGood) / (o.rttBad - o.rttGood)),
      failures: o.failureWeight * t.failureRate,
      flaps: Math.min(o.flapMax, o.flapPenalty * t.closes.length),
      staleness: now - t.lastAlive > o.staleAfter ? o.stalePenalty : 0,
    };
  }

  #pruneCloses(t: Track, now: number): void {
    const from = now - this.#options.flapWindow;
    while (t.closes.length > 0 && (t.closes[0] as number) < from) t.closes.shift();
  }

  #eject(id: string, t: Track, at: number): void {
    const o = this.#options;
    let connected = 0;
    let ejected = 0;
    for (const other of this.#tracks.values()) {
      if (other.connected) connected++;
      if (other.ejectedUntil !== undefined) ejected++;
    }
    const limit = Math.max(1, Math.floor(o.maxEjectionShare * connected));
    if (ejected >= limit) return;
    // Good behaviour since the last readmission earns back one ejection step per base period.
    const earned = Math.floor((at - t.readmittedAt) / o.baseEjectionTime);
    t.ejections = Math.max(0, t.ejections - earned) + 1;
    const duration = Math.min(o.maxEjectionTime, o.baseEjectionTime * t.ejections);
    t.ejectedUntil = at + duration;
    const failures = t.consecutiveFailures;
    t.consecutiveFailures = 0;
    this.#emit(id, true, `ejected for ${duration} ms after ${failures} consecutive failures`);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.#tracks.values())
      if (t.ejectedUntil !== undefined && t.ejectedUntil < next) next = t.ejectedUntil;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#readmit(), Math.max(0, next - this.now()));
  }

  #readmit(): void {
    this.#timer = undefined;
    const now = this.now();
    for (const [id, t] of this.#tracks) {
      if (t.ejectedUntil !== undefined && t.ejectedUntil <= now) {
        t.ejectedUntil = undefined;
        t.readmittedAt = now;
        this.#emit(id, false, "ejection time elapsed");
      }
    }
    this.#schedule();
  }

  #emit(id: string, ejected: boolean, reason: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(id, ejected, reason);
      } catch {
        // One broken listener must not hide an ejection from the others.
      }
    }
  }
}

/** Creates the default HealthScorer. */
export function healthScorer(
  options: Partial<HealthScoreOptions> = {},
  now?: () => number,
): HealthScoreBoard {
  return new HealthScoreBoard(options, now);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** What each signal costs, in points. */
interface Parts {
  readonly rtt: number;
  readonly failures: number;
  readonly flaps: number;
  readonly staleness: number;
}

/** The 0–100 score once the parts are taken off. */
function total({ rtt, failures, flaps, staleness }: Parts): number {
  return Math.max(0, Math.round(100 - rtt - failures - flaps - staleness));
}
