/** A span of time, ms since the run started. */
export interface Window {
  readonly kind: string;
  readonly target?: string;
  readonly from: number;
  /** Until when (Infinity while it lasts). */
  to: number;
}

/** An API change of the endpoint list and how it was answered. */
export interface ChangeRecord {
  readonly token: string;
  readonly op: "add" | "remove";
  /** The instance the change went through. */
  readonly via: string;
  readonly sent: number;
  answered?: number;
  /** `done`: the change is in the list (201, 204, or 409/404: it already was); `refused`: it is not; `unknown`. */
  outcome?: "done" | "refused" | "unknown";
  status?: number | string;
}

/** A tool call an agent made and what came back. */
export interface CallRecord {
  readonly token: string;
  readonly id: string;
  readonly sent: number;
  /** Answers with its id, counted after the run. */
  answers: number;
  ok: boolean;
  /** The socket closed before an answer. */
  cut: boolean;
}

/** Everything a run recorded, for the checks. */
export interface RunLog {
  readonly leaseTtl: number;
  /** When every endpoint was first held once; checks start there. */
  readonly settledAt: number;
  readonly endedAt: number;
  readonly initial: readonly string[];
  /** Socket counts per token as they changed. */
  readonly counts: readonly { readonly at: number; readonly token: string; readonly open: number }[];
  readonly changes: readonly ChangeRecord[];
  readonly windows: readonly Window[];
  readonly calls: readonly CallRecord[];
  /** The tokens the cluster lists at the end. */
  readonly listed: ReadonlySet<string>;
}

/** How long after a holder runs and reaches Redis again it may still hold what another took, ms. */
const excuseGrace = 2000;
/** How long after a removal is acknowledged its links may take to close, ms. */
const closeGrace = 2000;
/** How long the instances take to reconnect to a Redis that came back, ms (the client's retry cap). */
const reconnect = 1000;
/** How long a list seeded into an empty Redis settles before anything is taken, ms. */
const listSettle = 3000;

/** How long after a change the other instances surely know it (pub/sub, or the next tick), ms. */
const learn = 1000;

/**
 * Whether a change acknowledged before Redis restarted empty may be lost: at some restart after it,
 * no instance that knew it reached Redis again, as the same process, soon enough to restore the
 * list (within the 3 s a list seeded from a file may be replaced). An instance knows a change it
 * made, and one that was in Redis while it ran and reached Redis for a second. Only Redis's own
 * persistence could keep a change nobody knew.
 */
export function atRisk(log: RunLog, change: ChangeRecord): boolean {
  if (change.outcome !== "done" || change.answered === undefined) return false;
  const instances = new Set(log.windows.flatMap((w) => (w.target ? [w.target] : [])));
  instances.add(change.via);
  const gone = (id: string, from: number, to: number) =>
    log.windows.some(
      (w) => w.target === id && (w.kind === "killed" || w.kind === "stopped") && w.from < to && w.to > from,
    );
  /** The start of the first `length` ms within [from, to] that `id` ran and reached Redis throughout. */
  const upFor = (id: string, from: number, to: number, length: number): number | undefined => {
    let start = from;
    const away = log.windows
      .filter((w) => w.target === id && ["killed", "stopped", "pause", "partition"].includes(w.kind))
      .sort((a, b) => a.from - b.from);
    for (const w of away) {
      if (w.to <= start) continue;
      if (w.from - start >= length) break;
      start = Math.max(start, w.to);
    }
    return start + length <= to ? start : undefined;
  };
  let inRedisSince = change.answered;
  const restarts = log.windows
    .filter((r) => r.kind === "redis-down" && r.from >= change.sent)
    .sort((a, b) => a.from - b.from);
  for (const restart of restarts) {
    const knowers = [...instances].filter((id) => {
      const back = upFor(id, restart.to, restart.to + listSettle, reconnect);
      if (back === undefined) return false;
      // The process that made the change knows it; any process that ran while Redis had it learned it.
      const known = [
        id === change.via ? change.sent : undefined,
        upFor(id, inRedisSince, restart.from, learn),
      ];
      return known.some((at) => at !== undefined && !gone(id, at, back + reconnect));
    });
    if (knowers.length === 0) return true;
    inRedisSince = restart.to + reconnect;
  }
  return false;
}

/** What each token's list state should be at the end: present, absent, or unknown. */
export function expectedAtEnd(log: RunLog): Map<string, "present" | "absent" | "unknown"> {
  const state = new Map<string, "present" | "absent" | "unknown">(log.initial.map((t) => [t, "present"]));
  const ordered = [...log.changes].filter((c) => c.answered !== undefined).sort((a, b) => a.sent - b.sent);
  for (const change of ordered) {
    if (change.outcome === "refused") continue;
    const done = change.op === "add" ? "present" : "absent";
    state.set(change.token, change.outcome === "done" ? done : "unknown");
  }
  return state;
}

/** Intervals during which `token` had `predicate(open)` true. */
function spans(log: RunLog, token: string, predicate: (open: number) => boolean): [number, number][] {
  const out: [number, number][] = [];
  let since: number | undefined;
  let open = 0;
  for (const entry of log.counts) {
    if (entry.token !== token) continue;
    const was = predicate(open);
    open = entry.open;
    const now = predicate(open);
    if (!was && now) since = entry.at;
    if (was && !now && since !== undefined) {
      out.push([since, entry.at]);
      since = undefined;
    }
  }
  if (predicate(open)) out.push([since ?? 0, log.endedAt]);
  return out;
}

/** Every promise the run must keep that it broke, in words; empty when it kept them all. */
export function violations(given: RunLog): string[] {
  // A change Redis alone held when it restarted empty is as unsure as an unanswered one.
  const log: RunLog = {
    ...given,
    changes: given.changes.map((c) => (atRisk(given, c) ? { ...c, outcome: "unknown" as const } : c)),
  };
  const found: string[] = [];
  const tokens = new Set([...log.initial, ...log.changes.map((c) => c.token)]);
  const expected = expectedAtEnd(log);
  for (const [token, state] of expected) {
    if (state === "present" && !log.listed.has(token)) found.push(`acknowledged add lost: ${token}`);
    if (state === "absent" && log.listed.has(token)) found.push(`acknowledged remove undone: ${token}`);
  }
  const excuses = log.windows.filter((w) => w.kind === "pause" || w.kind === "partition");
  // While Redis is away nobody can take or learn anything; when it comes back empty, the instances
  // reconnect (within a second) and take nothing until the list they restore has settled (3 s).
  const outages = log.windows
    .filter((w) => w.kind === "redis-down")
    .map((w) => ({ ...w, to: w.to + reconnect + listSettle }));
  const blockers = [...outages, ...log.windows.filter((w) => w.kind === "client-pause")];
  const bound = log.leaseTtl + 2000;
  for (const token of tokens) {
    const changes = log.changes.filter((c) => c.token === token).sort((a, b) => a.sent - b.sent);
    // Double holding: only while some instance is paused or cut off from Redis, and a little after.
    for (const [from, to] of spans(log, token, (open) => open >= 2)) {
      if (from < log.settledAt) continue;
      // Started while an instance was paused or cut off (or just after), and over once it ran
      // and reached Redis again.
      const excused = excuses.some((w) => {
        const back = stillAway(log, w) + excuseGrace;
        return from >= w.from && from <= back && to <= back;
      });
      if (!excused) found.push(`${token} held twice for ${to - from} ms from ${from} ms`);
    }
    // Resurrection: a link opened after a removal was acknowledged (before any later change), or
    // one left open past it by a holder that was neither paused nor cut off from Redis.
    changes.forEach((change, i) => {
      const answered = change.answered;
      if (change.op !== "remove" || change.outcome !== "done" || answered === undefined) return;
      const until = changes[i + 1]?.sent ?? log.endedAt;
      const after = answered + closeGrace;
      let open = 0;
      for (const entry of log.counts) {
        if (entry.token !== token) continue;
        if (entry.at > after && entry.at < until && entry.open > open) {
          found.push(`${token} opened at ${entry.at} ms, after its removal at ${answered} ms`);
        }
        open = entry.open;
      }
      for (const [from, to] of spans(log, token, (n) => n > 0)) {
        if (from > answered || to <= after || from >= until) continue;
        const end = Math.min(to, until);
        // A holder that was paused or cut off, or could not hear of the removal while Redis was
        // away or paused (its commands time out, the next tick hears).
        const slowed = log.windows
          .filter((w) => w.kind === "client-pause")
          .map((w) => ({ ...w, to: w.to + reconnect }));
        // Back from a pause or partition into a Redis that lost its data, it holds still until the
        // restored list settles.
        const excused =
          [...outages, ...slowed].some((w) => w.from <= after && end <= w.to + excuseGrace) ||
          excuses.some(
            (w) => w.from <= after && end <= stillAway(log, w, reconnect + listSettle) + excuseGrace,
          );
        if (!excused)
          found.push(`${token} still open ${end - answered} ms after its removal at ${answered} ms`);
      }
    });
    // Unheld too long: while listed and no change of it under way, back within leaseTtl + 2 s.
    const present = presence(log, token, changes);
    for (const [from, to] of spans(log, token, (open) => open === 0)) {
      for (const [p0, p1] of present) {
        const start = Math.max(from, p0, log.settledAt);
        const end = Math.min(to, p1);
        if (end <= start) continue;
        const blocked = Math.max(
          start,
          ...blockers.filter((b) => b.from < end).map((b) => Math.min(b.to, end)),
        );
        if (end - blocked > bound && end < log.endedAt) {
          found.push(`${token} unheld for ${end - blocked} ms from ${start} ms (bound ${bound} ms)`);
        }
      }
    }
  }
  const lost = log.calls.filter((c) => c.answers === 0 && !c.cut);
  const doubled = log.calls.filter((c) => c.answers > 1);
  if (lost.length > 0) found.push(`${lost.length} call(s) never answered on an open socket`);
  if (doubled.length > 0) found.push(`${doubled.length} call(s) answered twice`);
  return found;
}

/**
 * Until when the instance a pause or partition held could still not run and reach Redis: that
 * window, and any that follows it within a second (another pause or partition of it, Redis away
 * and the instances reconnecting, a `CLIENT PAUSE`).
 */
function stillAway(log: RunLog, first: Window, redisTail = reconnect): number {
  let end = first.to;
  // Bounded: each round moves `end` later along a finite list of windows.
  for (let round = 0; round < log.windows.length; round++) {
    const next = log.windows.find(
      (w) =>
        w.from <= end + 1000 &&
        until(w, redisTail) > end &&
        (w.kind === "redis-down" ||
          w.kind === "client-pause" ||
          (w.target === first.target && (w.kind === "pause" || w.kind === "partition"))),
    );
    if (!next) break;
    end = until(next, redisTail);
  }
  return end;
}

function until(w: Window, redisTail = reconnect): number {
  return w.kind === "redis-down" ? w.to + redisTail : w.to;
}

/** When `token` is surely listed: from its add's answer (or the start) to the next change sent. */
function presence(log: RunLog, token: string, changes: readonly ChangeRecord[]): [number, number][] {
  const out: [number, number][] = [];
  let from = log.initial.includes(token) ? 0 : undefined;
  for (const change of changes) {
    const was = from !== undefined;
    if (was) out.push([from as number, change.sent]);
    const after = change.answered ?? log.endedAt;
    // A refused change changed nothing; an unknown one leaves it unsure.
    if (change.outcome === "done") from = change.op === "add" ? after : undefined;
    else from = change.outcome === "refused" && was ? after : undefined;
  }
  if (from !== undefined) out.push([from, log.endedAt]);
  return out;
}
