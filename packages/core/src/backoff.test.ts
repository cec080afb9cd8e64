import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay, defaultBackoff } from "./backoff.js";
import { seededRandom as seeded } from "./testing/seeded-random.js";

describe("backoff", () => {
  it("doubles the ceiling from 1 s and caps it at 60 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffCeiling(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
    expect(backoffCeiling(5000)).toBe(60000);
  });

  it("keeps every jittered delay within [0, ceiling] for each attempt", () => {
    const random = seeded(1);
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = backoffCeiling(attempt);
      for (let i = 0; i < 500; i++) {
        const delay = backoffDelay(attempt, defaultBackoff, random);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(backoffDelay(3, defaultBackoff, () => 0.999999)).toBe(7999);
    expect(backoffDelay(3, defaultBackoff, () => 0)).toBe(0);
  });

  it("spreads delays uniformly so a herd does not reconnect in lockstep", () => {
    const random = seeded(42);
    const buckets = new Array(10).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) buckets[Math.floor(backoffDelay(2, defaultBackoff, random) / 400)]++;
    const mean = n / buckets.length;
    expect(Math.max(...buckets) / mean).toBeLessThan(1.1);
    expect(Math.min(...buckets) / mean).toBeGreaterThan(0.9);
  });

  it("uses the exact ceiling without jitter and honours custom options", () => {
    const options = { initialDelay: 100, multiplier: 3, maxDelay: 1000, jitter: "none" as const };
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, options))).toEqual([100, 300, 900, 1000]);
  });
});
