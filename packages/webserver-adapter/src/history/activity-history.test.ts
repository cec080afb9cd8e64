import { describe, expect, it } from "vitest";
import { ActivityHistory } from "./activity-history.js";

const hour = 3_600_000;

describe("ActivityHistory", () => {
  it("keeps one point per slot over the window, averaging the RTTs of a slot", () => {
    let now = 0;
    const history = new ActivityHistory({ now: () => now, window: 60_000, points: 6 });
    history.sample("a", "kitchen", 100, 10, 1_000);
    history.sample("a", "kitchen", 90, 30, 2_000);
    history.sample("a", "kitchen", 80, undefined, 11_000);
    now = 12_000;
    expect(history.endpoint("a")).toEqual({
      id: "a",
      name: "kitchen",
      points: [
        { at: 0, rttMs: 20, health: 90 },
        { at: 10_000, health: 80 },
      ],
      periods: [],
    });
    // Past the window the oldest points go: the ring holds `points` and shows only the window.
    for (let at = 20_000; at <= 200_000; at += 10_000) history.sample("a", "kitchen", 70, 5, at);
    now = 200_000;
    const points = history.endpoint("a")?.points ?? [];
    expect(points).toHaveLength(6);
    expect(points[0]?.at).toBe(150_000);
    expect(points.at(-1)).toEqual({ at: 200_000, rttMs: 5, health: 70 });
  });

  it("records up and down periods with reasons, bounded, and cuts long reasons", () => {
    const history = new ActivityHistory({ periods: 4, now: () => 0 });
    history.transition("a", undefined, true, undefined, 1);
    history.transition("a", undefined, false, "closed 1006", 2);
    history.transition("a", undefined, false, "connect ECONNREFUSED", 3);
    history.transition("a", undefined, true, undefined, 4);
    // Why the link went down, not what a retry met since; why it gave up when it did.
    history.transition("a", undefined, false, "closed 1001 going away", 5);
    history.transition("a", undefined, false, "connect ECONNREFUSED", 6);
    history.transition("a", undefined, false, "gave up after 3 reconnect attempts: HTTP 401", 7, true);
    expect(history.endpoint("a")?.periods).toEqual([
      { up: true, from: 1, to: 2 },
      { up: false, from: 2, to: 4, reason: "closed 1006" },
      { up: true, from: 4, to: 5 },
      { up: false, from: 5, reason: "gave up after 3 reconnect attempts: HTTP 401" },
    ]);
    for (let at = 5; at < 15; at++) history.transition("a", undefined, at % 2 === 1, "x".repeat(500), at);
    const periods = history.endpoint("a")?.periods ?? [];
    expect(periods).toHaveLength(4);
    expect(periods.at(-1)?.from).toBe(14);
    const reason = periods.find((p) => !p.up)?.reason ?? "";
    expect(reason).toHaveLength(history.bounds.reasonChars);
    expect(reason.endsWith("...")).toBe(true);
  });

  it("keeps the latest calls newest first and per-tool counts and percentiles", () => {
    const history = new ActivityHistory({ calls: 3, durationsPerTool: 100, tools: 2 });
    for (let i = 1; i <= 100; i++) {
      history.call({ at: i, endpoint: "a", agent: "kitchen", tool: "calc__add", ms: i, ok: i % 10 !== 0 });
    }
    const result = history.call({ at: 101, endpoint: "a", tool: "calc__mul", ms: 7, ok: true });
    expect(result.stats).toEqual({ name: "calc__mul", calls: 1, errors: 0, p50Ms: 7, p95Ms: 7 });
    expect(history.calls().map((c) => c.at)).toEqual([101, 100, 99]);
    expect(history.toolStats()).toContainEqual({
      name: "calc__add",
      calls: 100,
      errors: 10,
      p50Ms: 51,
      p95Ms: 96,
    });
    // Past `tools` tools, calls still show in the list but get no statistics of their own.
    expect(history.call({ at: 102, endpoint: "a", tool: "third", ms: 1, ok: true }).stats).toBeUndefined();
    expect(history.toolStats()).toHaveLength(2);
    expect(history.calls()[0]?.tool).toBe("third");
  });

  it("stays within its stated bounds for 1,000 endpoints over an hour of fake time", () => {
    let now = Date.UTC(2026, 0, 1);
    const start = now;
    const history = new ActivityHistory({ now: () => now });
    const ids = Array.from({ length: 1000 }, (_, i) => `ep-${i}`);
    // A heartbeat every 5 s for every endpoint, a drop every 2 min, and tool calls throughout.
    for (let at = start; at <= start + hour; at += 5_000) {
      now = at;
      for (const [i, id] of ids.entries()) {
        history.sample(id, `agent ${i}`, 90 + (i % 10), 20 + (i % 7), at);
        if ((at - start) % 120_000 === 0) {
          history.transition(id, `agent ${i}`, false, `closed 1006 after ${at}`, at);
          history.transition(id, `agent ${i}`, true, undefined, at + 1);
        }
      }
      history.call({ at, endpoint: "ep-1", tool: `t${(at / 5_000) % 600}`, ms: 3, ok: true });
    }
    const size = history.size;
    const { pointsPerEndpoint, periodsPerEndpoint, calls, tools } = history.bounds;
    expect(size.endpoints).toBe(1000);
    expect(size.points).toBe(1000 * pointsPerEndpoint);
    expect(size.periods).toBe(1000 * periodsPerEndpoint);
    expect(size.calls).toBe(calls);
    expect(size.tools).toBe(tools);
    // Everything shown lies within the window.
    expect(history.endpoint("ep-0")?.points.every((p) => p.at > now - hour - 30_000)).toBe(true);
    history.forget("ep-0");
    expect(history.size.endpoints).toBe(999);
    expect(history.snapshot("ep-0").endpoints).toEqual([]);
  });
});
