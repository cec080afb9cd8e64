import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HealthScoreBoard } from "./health-score-board.js";

let board: HealthScoreBoard;
const events: [string, boolean, string][] = [];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
  board = new HealthScoreBoard();
  events.length = 0;
  board.onEjectionChanged((id, ejected, reason) => events.push([id, ejected, reason]));
});
afterEach(() => {
  board.dispose();
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

const at = () => Date.now();
function connect(...ids: string[]) {
  for (const id of ids) board.observe(id, { kind: "connected", at: at() });
}
function fail(id: string, times: number) {
  for (let i = 0; i < times; i++) board.observe(id, { kind: "failure", at: at(), reason: "x" });
}

describe("score", () => {
  it("is 100 for a fresh connected link and 0 for an unknown or closed one", () => {
    connect("a");
    expect(board.score("a")).toBe(100);
    expect(board.score("nope")).toBe(0);
    board.observe("a", { kind: "closed", at: at(), code: 1006, retryable: true });
    expect(board.report("a")).toMatchObject({ score: 0, parts: { disconnected: -100 } });
  });

  it("charges slow round trips through an EWMA, up to 30 points", () => {
    connect("a");
    board.observe("a", { kind: "rtt", at: at(), ms: 525 });
    // (525 - 50) / (1000 - 50) = 0.5 of 30 points.
    expect(board.report("a").parts.rtt).toBe(-15);
    expect(board.score("a")).toBe(85);
    board.observe("a", { kind: "rtt", at: at(), ms: 50 });
    // EWMA: 525 + 0.3 × (50 − 525) = 382.5 → 10.5 points.
    expect(board.report("a").parts.rtt).toBe(-10.5);
    for (let i = 0; i < 10; i++) board.observe("a", { kind: "rtt", at: at(), ms: 10_000 });
    expect(board.report("a").parts.rtt).toBe(-30);
  });

  it("charges the recent failure rate and forgives it with successes", () => {
    connect("a");
    fail("a", 2);
    // 1 − 0.8² = 0.36 of 40 points.
    expect(board.report("a").parts.failures).toBe(-14.4);
    for (let i = 0; i < 30; i++) board.observe("a", { kind: "success", at: at(), ms: 1 });
    expect(board.score("a")).toBeGreaterThanOrEqual(99);
  });

  it("scores what its report says, with every part charged", () => {
    const since = at();
    connect("a");
    board.observe("a", { kind: "rtt", at: since, ms: 700 });
    fail("a", 2);
    vi.advanceTimersByTime(91_000);
    // A flap a moment ago, the link back as of its last sign of life 91 s ago: stale too.
    board.observe("a", { kind: "closed", at: at(), code: 1006, retryable: true });
    board.observe("a", { kind: "connected", at: since });
    const report = board.report("a");
    expect(Object.values(report.parts).every((part) => part < 0)).toBe(true);
    expect(board.score("a")).toBe(report.score);
    expect(report.score).toBe(
      Math.round(100 + Object.values(report.parts).reduce((sum, part) => sum + part, 0)),
    );
  });

  it("charges flaps within the window and staleness, and explains itself", () => {
    connect("a");
    for (let i = 0; i < 3; i++) {
      board.observe("a", { kind: "closed", at: at(), code: 4004, retryable: true });
      connect("a");
    }
    expect(board.report("a").parts.flaps).toBe(-20);
    vi.advanceTimersByTime(61_000);
    expect(board.report("a").parts.flaps).toBe(-0);
    vi.advanceTimersByTime(30_000);
    expect(board.report("a")).toMatchObject({ score: 90, parts: { staleness: -10 } });
    board.observe("a", { kind: "frame", at: at() });
    expect(board.score("a")).toBe(100);
  });
});

describe("ejection", () => {
  it("ejects after consecutive failures and readmits when the time is up", () => {
    connect("a", "b", "c", "d");
    fail("a", 4);
    expect(board.isEjected("a")).toBe(false);
    fail("a", 1);
    expect(board.isEjected("a")).toBe(true);
    expect(events).toEqual([["a", true, "ejected for 30000 ms after 5 consecutive failures"]]);
    expect(board.report("a").ejectedUntil).toBe(at() + 30_000);
    vi.advanceTimersByTime(29_999);
    expect(board.isEjected("a")).toBe(true);
    vi.advanceTimersByTime(1);
    expect(board.isEjected("a")).toBe(false);
    expect(events.at(-1)).toEqual(["a", false, "ejection time elapsed"]);
  });

  it("a success resets the consecutive count", () => {
    connect("a", "b");
    fail("a", 4);
    board.observe("a", { kind: "rtt", at: at(), ms: 5 });
    fail("a", 4);
    expect(board.isEjected("a")).toBe(false);
  });

  it("grows the ejection time with repeats up to the cap and decays it while healthy", () => {
    const capped = new HealthScoreBoard({ baseEjectionTime: 1000, maxEjectionTime: 2500 });
    const times: string[] = [];
    capped.onEjectionChanged((_id, ejected, reason) => ejected && times.push(reason.split(" ")[2] as string));
    capped.observe("a", { kind: "connected", at: at() });
    capped.observe("b", { kind: "connected", at: at() });
    const fails = () => {
      for (let i = 0; i < 5; i++) capped.observe("a", { kind: "failure", at: at(), reason: "x" });
    };
    fails();
    vi.advanceTimersByTime(1000);
    fails();
    vi.advanceTimersByTime(2000);
    fails();
    vi.advanceTimersByTime(2500);
    expect(times).toEqual(["1000", "2000", "2500"]);
    // Healthy for two base periods earns back two steps: 3 − 2 + 1 = 2.
    vi.advanceTimersByTime(2000);
    fails();
    expect(times.at(-1)).toBe("2000");
    capped.dispose();
  });

  it("never ejects more than the configured share of connected links (at least one)", () => {
    connect("a", "b", "c", "d", "e");
    for (const id of ["a", "b", "c", "d", "e"]) fail(id, 5);
    // floor(0.5 × 5) = 2.
    expect(board.ejected()).toEqual(["a", "b"]);
    const lonely = new HealthScoreBoard();
    lonely.observe("x", { kind: "connected", at: at() });
    for (let i = 0; i < 5; i++) lonely.observe("x", { kind: "failure", at: at(), reason: "x" });
    expect(lonely.ejected()).toEqual(["x"]);
    lonely.dispose();
  });

  it("forgets removed connections and their timers", () => {
    connect("a", "b");
    fail("a", 5);
    expect(vi.getTimerCount()).toBe(1);
    board.remove("a");
    expect(vi.getTimerCount()).toBe(0);
    expect(board.isEjected("a")).toBe(false);
  });
});
