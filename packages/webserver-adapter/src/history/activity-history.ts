/**
 * What happened over time, kept in bounded memory: per endpoint, round-trip time and health over a
 * window (one point per slot, so the cost does not depend on the heartbeat) and the last up and down
 * periods with their reasons; the last tool calls; per tool, call and error counts and the durations
 * of its latest calls for percentiles. Arguments and results of calls are never kept.
 */

/** The bounds of an {@link ActivityHistory}; every field has a default. */
export interface HistoryOptions {
  /** The span RTT and health are kept for, in ms; default one hour. */
  readonly window?: number;
  /** Points per endpoint over the window (samples in one slot are averaged); default 120. */
  readonly points?: number;
  /** Up and down periods kept per endpoint; default 24. */
  readonly periods?: number;
  /** Recent tool calls kept in all; default 200. */
  readonly calls?: number;
  /** Durations kept per tool for p50/p95; default 512. */
  readonly durationsPerTool?: number;
  /** Tools with statistics; calls of further tools are counted only in the call list. Default 500. */
  readonly tools?: number;
  readonly now?: () => number;
}

/** The bounds in force, as `GET /api/history` reports them. */
export interface HistoryBounds {
  readonly windowMs: number;
  readonly pointsPerEndpoint: number;
  readonly periodsPerEndpoint: number;
  readonly reasonChars: number;
  readonly calls: number;
  readonly durationsPerTool: number;
  readonly tools: number;
}

/** One point of an endpoint's chart: the mean RTT of its slot (when any was measured) and health. */
export interface HistoryPoint {
  readonly at: number;
  readonly rttMs?: number;
  readonly health: number;
}

/** A stretch of time an endpoint was up or down, from `from` until `to` (open while current). */
export interface HistoryPeriod {
  readonly up: boolean;
  readonly from: number;
  readonly to?: number;
  /** Why it went down (close code, connect error), never with a token. */
  readonly reason?: string;
}

export interface EndpointHistory {
  readonly id: string;
  readonly name?: string;
  readonly points: readonly HistoryPoint[];
  readonly periods: readonly HistoryPeriod[];
}

/** One tool call as an agent made it: never its arguments or its result. */
export interface CallRecord {
  readonly at: number;
  /** The endpoint the call came through. */
  readonly endpoint: string;
  /** The agent's name (the endpoint's name), when known. */
  readonly agent?: string;
  readonly tool: string;
  readonly ms: number;
  readonly ok: boolean;
  /** Set when the result was cut to fit the endpoint's `maxResultBytes`: message bytes before and after. */
  readonly truncated?: { readonly from: number; readonly to: number };
}

export interface ToolStats {
  readonly name: string;
  readonly calls: number;
  readonly errors: number;
  /** Over the latest calls (at most `durationsPerTool`). */
  readonly p50Ms?: number;
  readonly p95Ms?: number;
}

/** `GET /api/history`. */
export interface HistorySnapshot {
  readonly bounds: HistoryBounds;
  readonly endpoints: readonly EndpointHistory[];
  readonly calls: readonly CallRecord[];
  readonly tools: readonly ToolStats[];
}

const reasonChars = 120;

/**
 * The history of one endpoint in one buffer: its chart points (a ring of slot, mean RTT, RTT count
 * and health, 11 bytes a point) and its up/down periods (a ring of start and up/down, 9 bytes each,
 * plus the reasons of down periods).
 */
class Series {
  readonly #slot: Uint32Array;
  readonly #rtt: Float32Array;
  readonly #count: Uint16Array;
  readonly #health: Uint8Array;
  readonly #from: Float64Array;
  readonly #up: Uint8Array;
  readonly #reasons: (string | undefined)[];
  /** Index of the newest point; -1 while empty. */
  #head = -1;
  size = 0;
  #periodHead = -1;
  periodCount = 0;

  constructor(
    readonly capacity: number,
    readonly periodCapacity: number,
    public name: string | undefined,
  ) {
    const p = periodCapacity;
    // Float64 first, then the narrower arrays, so every view stays aligned.
    const buffer = new ArrayBuffer(p * 8 + capacity * 4 * 2 + capacity * 2 + capacity + p);
    let at = 0;
    const take = (bytes: number) => {
      const offset = at;
      at += bytes;
      return offset;
    };
    this.#from = new Float64Array(buffer, take(p * 8), p);
    this.#slot = new Uint32Array(buffer, take(capacity * 4), capacity);
    this.#rtt = new Float32Array(buffer, take(capacity * 4), capacity);
    this.#count = new Uint16Array(buffer, take(capacity * 2), capacity);
    this.#health = new Uint8Array(buffer, take(capacity), capacity);
    this.#up = new Uint8Array(buffer, take(p), p);
    this.#reasons = new Array(p).fill(undefined);
  }

  /** Adds to the point of `slot`, or starts a new one (overwriting the oldest when full). */
  record(slot: number, health: number, rttMs: number | undefined): number {
    let i = this.#head;
    if (i < 0 || this.#slot[i] !== slot) {
      i = (this.#head + 1) % this.capacity;
      this.#head = i;
      this.size = Math.min(this.size + 1, this.capacity);
      this.#slot[i] = slot;
      this.#rtt[i] = 0;
      this.#count[i] = 0;
    }
    this.#health[i] = Math.max(0, Math.min(100, Math.round(health)));
    if (rttMs !== undefined && Number.isFinite(rttMs)) {
      const n = this.#count[i] as number;
      // A running mean, so a fast heartbeat costs nothing more than a slow one.
      this.#rtt[i] = ((this.#rtt[i] as number) * n + rttMs) / (n + 1);
      this.#count[i] = Math.min(n + 1, 0xffff);
    }
    return i;
  }

  points(width: number, since: number): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    for (let k = this.size - 1; k >= 0; k--) {
      const i = (this.#head - k + this.capacity) % this.capacity;
      if (((this.#slot[i] as number) + 1) * width <= since) continue;
      out.push(this.point(i, width));
    }
    return out;
  }

  /** The point at ring index `i`. */
  point(i: number, width: number): HistoryPoint {
    const at = (this.#slot[i] as number) * width;
    const health = this.#health[i] as number;
    return (this.#count[i] as number) > 0
      ? { at, rttMs: Math.round((this.#rtt[i] as number) * 10) / 10, health }
      : { at, health };
  }

  /** The newest period, if any. */
  lastPeriod(): { up: boolean; reason: string | undefined } | undefined {
    const i = this.#periodHead;
    return i < 0 ? undefined : { up: this.#up[i] === 1, reason: this.#reasons[i] };
  }

  /** Starts a period (the previous one ends there), overwriting the oldest when full. */
  startPeriod(up: boolean, at: number, reason: string | undefined): void {
    const i = (this.#periodHead + 1) % this.periodCapacity;
    this.#periodHead = i;
    this.periodCount = Math.min(this.periodCount + 1, this.periodCapacity);
    this.#from[i] = at;
    this.#up[i] = up ? 1 : 0;
    this.#reasons[i] = reason;
  }

  /** A reason for the current down period. */
  setReason(reason: string): void {
    if (this.#periodHead >= 0) this.#reasons[this.#periodHead] = reason;
  }

  periods(): HistoryPeriod[] {
    const out: HistoryPeriod[] = [];
    for (let k = this.periodCount - 1; k >= 0; k--) {
      const i = (this.#periodHead - k + this.periodCapacity) % this.periodCapacity;
      const next = k === 0 ? undefined : (i + 1) % this.periodCapacity;
      const up = this.#up[i] === 1;
      const reason = this.#reasons[i];
      out.push({
        up,
        from: this.#from[i] as number,
        ...(next === undefined ? {} : { to: this.#from[next] as number }),
        ...(up || reason === undefined ? {} : { reason }),
      });
    }
    return out;
  }
}

/** Latest durations of one tool in a ring, with its counts. */
class ToolRecord {
  calls = 0;
  errors = 0;
  next = 0;
  size = 0;
  readonly durations: Float32Array;

  constructor(capacity: number) {
    this.durations = new Float32Array(capacity);
  }

  add(ms: number, ok: boolean): void {
    this.calls++;
    if (!ok) this.errors++;
    this.durations[this.next] = ms;
    this.next = (this.next + 1) % this.durations.length;
    this.size = Math.min(this.size + 1, this.durations.length);
  }

  stats(name: string): ToolStats {
    if (this.size === 0) return { name, calls: this.calls, errors: this.errors };
    const sorted = this.durations.slice(0, this.size).sort();
    const at = (q: number) =>
      Math.round((sorted[Math.min(this.size - 1, Math.floor(q * this.size))] as number) * 10) / 10;
    return { name, calls: this.calls, errors: this.errors, p50Ms: at(0.5), p95Ms: at(0.95) };
  }
}

/**
 * Bounded history of the endpoints and the tool calls. Everything is fixed-size: per endpoint
 * `points` chart points and `periods` up/down periods (reasons cut to 120 characters), at most
 * 6.5 KiB with the defaults, every reason in two-byte characters (1,000 endpoints: 6.5 MiB); in
 * all `calls` recent calls and, for up to `tools` tools, `durationsPerTool` durations each (2 KiB
 * a tool).
 */
export class ActivityHistory {
  readonly bounds: HistoryBounds;
  readonly #series = new Map<string, Series>();
  readonly #calls: (CallRecord | undefined)[];
  #nextCall = 0;
  readonly #tools = new Map<string, ToolRecord>();
  readonly #now: () => number;
  readonly #width: number;

  constructor(options: HistoryOptions = {}) {
    const windowMs = options.window ?? 3_600_000;
    const points = options.points ?? 120;
    this.bounds = Object.freeze({
      windowMs,
      pointsPerEndpoint: points,
      periodsPerEndpoint: options.periods ?? 24,
      reasonChars,
      calls: options.calls ?? 200,
      durationsPerTool: options.durationsPerTool ?? 512,
      tools: options.tools ?? 500,
    });
    this.#width = windowMs / points;
    this.#calls = new Array(this.bounds.calls);
    this.#now = options.now ?? Date.now;
  }

  /**
   * A measurement of an endpoint: its health now, and the round trip when one was measured.
   * Returns the chart point it went into.
   */
  sample(
    id: string,
    name: string | undefined,
    health: number,
    rttMs?: number,
    at = this.#now(),
  ): HistoryPoint {
    const series = this.#get(id, name);
    return series.point(series.record(Math.floor(at / this.#width), health, rttMs), this.#width);
  }

  /**
   * The endpoint went up or down. A down period keeps the reason it began with (why the link went
   * down, not what each retry met since; the status has the latest), unless it has none yet or the
   * endpoint stopped retrying (`final`): then why it gave up is the reason.
   */
  transition(
    id: string,
    name: string | undefined,
    up: boolean,
    reason?: string,
    at = this.#now(),
    final = false,
  ): void {
    const series = this.#get(id, name);
    const kept = up || !reason ? undefined : cut(reason);
    const last = series.lastPeriod();
    if (last?.up === up) {
      if (kept !== undefined && (final || last.reason === undefined)) series.setReason(kept);
      return;
    }
    series.startPeriod(up, at, kept);
  }

  /** A tool call an agent made through endpoint `id`. */
  call(record: CallRecord): { call: CallRecord; stats?: ToolStats } {
    this.#calls[this.#nextCall] = record;
    this.#nextCall = (this.#nextCall + 1) % this.#calls.length;
    let tool = this.#tools.get(record.tool);
    if (!tool && this.#tools.size < this.bounds.tools) {
      tool = new ToolRecord(this.bounds.durationsPerTool);
      this.#tools.set(record.tool, tool);
    }
    tool?.add(record.ms, record.ok);
    return tool ? { call: record, stats: tool.stats(record.tool) } : { call: record };
  }

  /** Forgets a removed endpoint. */
  forget(id: string): void {
    this.#series.delete(id);
  }

  endpoint(id: string): EndpointHistory | undefined {
    const series = this.#series.get(id);
    if (!series) return undefined;
    const since = this.#now() - this.bounds.windowMs;
    return {
      id,
      ...(series.name === undefined ? {} : { name: series.name }),
      points: series.points(this.#width, since),
      periods: series.periods(),
    };
  }

  /** The latest calls, newest first. */
  calls(): CallRecord[] {
    const n = this.#calls.length;
    const out: CallRecord[] = [];
    for (let k = 1; k <= n; k++) {
      const call = this.#calls[(this.#nextCall - k + n) % n];
      if (call) out.push(call);
    }
    return out;
  }

  toolStats(): ToolStats[] {
    return [...this.#tools].map(([name, record]) => record.stats(name));
  }

  /** Everything, or one endpoint's part with the calls and tool statistics. */
  snapshot(endpointId?: string): HistorySnapshot {
    const ids = endpointId === undefined ? [...this.#series.keys()] : [endpointId];
    return {
      bounds: this.bounds,
      endpoints: ids.flatMap((id) => this.endpoint(id) ?? []),
      calls: this.calls(),
      tools: this.toolStats(),
    };
  }

  /** How many points, periods and calls are held now (for measuring the bounds). */
  get size(): { endpoints: number; points: number; periods: number; calls: number; tools: number } {
    let points = 0;
    let periods = 0;
    for (const series of this.#series.values()) {
      points += series.size;
      periods += series.periodCount;
    }
    return {
      endpoints: this.#series.size,
      points,
      periods,
      calls: this.calls().length,
      tools: this.#tools.size,
    };
  }

  #get(id: string, name: string | undefined): Series {
    let series = this.#series.get(id);
    if (!series) {
      series = new Series(this.bounds.pointsPerEndpoint, this.bounds.periodsPerEndpoint, name);
      this.#series.set(id, series);
    } else if (name !== series.name) series.name = name;
    return series;
  }
}

/** The reason cut to `reasonChars`, as a string of its own (a slice would keep the whole original). */
function cut(reason: string): string {
  const short = reason.length > reasonChars ? `${reason.slice(0, reasonChars - 3)}...` : reason;
  return Buffer.from(short, "utf8").toString("utf8");
}
