import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineSweep } from "./deadline-sweep.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function sweep() {
  const expired: [number, string][] = [];
  return {
    expired,
    deadlines: new DeadlineSweep<number, string>((key, value) => expired.push([key, value])),
  };
}

describe("DeadlineSweep", () => {
  it("ends a call once it is past its deadline, checked a tenth of the timeout apart", () => {
    const { expired, deadlines } = sweep();
    deadlines.track(1, 1000, "one");
    vi.advanceTimersByTime(900);
    expect(expired).toEqual([]);
    // Due at 1000 ms, seen at the next check: 1000 ms, a tick of 100 ms.
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([[1, "one"]]);
    vi.advanceTimersByTime(5000);
    expect(expired).toHaveLength(1);
  });

  it("leaves a call that ended alone, and stops its timer at the first check with nothing to check", () => {
    const { expired, deadlines } = sweep();
    deadlines.track(1, 1000, "one");
    deadlines.track(2, 1000, "two");
    deadlines.clear(1);
    expect(deadlines.size).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([[2, "two"]]);
    expect(vi.getTimerCount()).toBe(0);
    deadlines.track(3, 1000, "three");
    deadlines.clear(3);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    expect(expired).toHaveLength(1);
  });

  it("checks as often as the shortest timeout asks, within 5 ms and 1 s", () => {
    const { expired, deadlines } = sweep();
    deadlines.track(1, 60_000, "long");
    deadlines.track(2, 20, "short");
    // A tick of 5 ms (not 2): the short one is seen at 20 ms.
    vi.advanceTimersByTime(20);
    expect(expired).toEqual([[2, "short"]]);
    vi.advanceTimersByTime(59_980);
    expect(expired).toEqual([
      [2, "short"],
      [1, "long"],
    ]);
    // A timeout of an hour is still checked every second, not every six minutes.
    deadlines.track(3, 3_600_500, "hour");
    vi.advanceTimersByTime(3_600_000);
    expect(expired).toHaveLength(2);
    vi.advanceTimersByTime(1000);
    expect(expired.at(-1)).toEqual([3, "hour"]);
  });

  it("forgets everything at stop and leaves no timer", () => {
    const { expired, deadlines } = sweep();
    deadlines.track(1, 100, "one");
    deadlines.stop();
    expect([deadlines.size, vi.getTimerCount()]).toEqual([0, 0]);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([]);
  });
});
