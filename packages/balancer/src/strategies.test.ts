import type { Candidate, Connection, SelectContext, Strategy } from "@xiaozhi-connect/core";
import { seededRandom as seeded } from "@xiaozhi-connect/core/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { healthBased, leastInflight, random, roundRobin } from "./strategies.js";

interface Fake extends Candidate<Connection> {
  inflight: number;
  healthScore: number;
  ejected: boolean;
}

function candidates(specs: { weight?: number; healthScore?: number; ejected?: boolean }[]): Fake[] {
  return specs.map((s, i) => ({
    id: `ep-${i}`,
    connection: {} as Connection,
    weight: s.weight ?? 1,
    inflight: 0,
    healthScore: s.healthScore ?? 100,
    ejected: s.ejected ?? false,
  }));
}

const ctx = (random: () => number, panic = false): SelectContext => ({ attempt: 0, panic, random });
const all: [string, () => Strategy][] = [
  ["round-robin", roundRobin],
  ["random", random],
  ["health-based", healthBased],
  ["least-inflight", leastInflight],
];

describe.each(all)("%s", (name, make) => {
  it("has its registry name and specification version", () => {
    expect(make()).toMatchObject({ name, specificationVersion: "v1" });
  });

  it("never picks an ejected candidate outside panic, and picks one whenever one is eligible", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ejected: fc.boolean(),
            healthScore: fc.integer({ min: 1, max: 100 }),
            weight: fc.integer({ min: 1, max: 5 }),
          }),
          { minLength: 0, maxLength: 40 },
        ),
        fc.integer(),
        fc.boolean(),
        (specs, seed, panic) => {
          const list = candidates(specs);
          const strategy = make();
          const rnd = seeded(seed);
          for (let i = 0; i < 20; i++) {
            const picked = strategy.select(list, ctx(rnd, panic));
            const anyEligible = list.some((c) => panic || !c.ejected);
            if (!anyEligible) expect(picked).toBeUndefined();
            else {
              expect(picked).toBeDefined();
              expect(list).toContain(picked);
              if (!panic) expect(picked?.ejected).toBe(false);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("returns undefined for no candidates", () => {
    expect(make().select([], ctx(Math.random))).toBeUndefined();
  });
});

describe("load spread over 100,000 picks", () => {
  it("round-robin gives every candidate the same share", () => {
    const list = candidates(Array.from({ length: 7 }, () => ({})));
    const counts = new Map<string, number>();
    const strategy = roundRobin();
    for (let i = 0; i < 100_000; i++) {
      const id = strategy.select(list, ctx(Math.random))?.id as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const values = [...counts.values()];
    expect(values).toHaveLength(7);
    expect(Math.max(...values) / Math.min(...values)).toBeLessThan(1.001);
  });

  it("least-inflight keeps in-flight load balanced while operations finish at random", () => {
    const list = candidates(Array.from({ length: 10 }, () => ({})));
    const strategy = leastInflight();
    const rnd = seeded(7);
    const picks = new Map<string, number>();
    const running: Fake[] = [];
    let worstRatio = 1;
    for (let i = 0; i < 100_000; i++) {
      const picked = strategy.select(list, ctx(rnd)) as Fake;
      picked.inflight++;
      running.push(picked);
      picks.set(picked.id, (picks.get(picked.id) ?? 0) + 1);
      // Keep about 50 operations in flight; a random one finishes each step.
      while (running.length > 50) {
        const done = running.splice(Math.floor(rnd() * running.length), 1)[0] as Fake;
        done.inflight--;
      }
      if (i > 1000 && i % 1000 === 0) {
        const loads = list.map((c) => c.inflight);
        worstRatio = Math.max(worstRatio, (Math.max(...loads) + 1) / (Math.min(...loads) + 1));
      }
    }
    const counts = [...picks.values()];
    expect(Math.max(...counts) / Math.min(...counts)).toBeLessThan(1.1);
    expect(worstRatio).toBeLessThanOrEqual(4);
  });

  it("least-inflight honours weights", () => {
    const list = candidates([{ weight: 1 }, { weight: 3 }]);
    const strategy = leastInflight();
    const rnd = seeded(3);
    for (let i = 0; i < 4000; i++) (strategy.select(list, ctx(rnd)) as Fake).inflight++;
    expect((list[1] as Fake).inflight / (list[0] as Fake).inflight).toBeCloseTo(3, 0);
  });
});

describe("proportions", () => {
  it("health-based picks in proportion to health scores", () => {
    const scores = [100, 80, 50, 20, 10];
    const list = candidates(scores.map((healthScore) => ({ healthScore })));
    const strategy = healthBased();
    const rnd = seeded(11);
    const n = 100_000;
    const counts = new Array(scores.length).fill(0);
    for (let i = 0; i < n; i++) counts[Number((strategy.select(list, ctx(rnd)) as Fake).id.slice(3))]++;
    const total = scores.reduce((a, b) => a + b, 0);
    scores.forEach((score, i) => {
      expect(counts[i] / n).toBeCloseTo(score / total, 2);
    });
  });

  it("random follows endpoint weights", () => {
    const list = candidates([{ weight: 1 }, { weight: 2 }, { weight: 5 }]);
    const strategy = random();
    const rnd = seeded(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 80_000; i++) {
      const index = Number((strategy.select(list, ctx(rnd)) as Fake).id.slice(3));
      counts[index] = (counts[index] ?? 0) + 1;
    }
    expect(counts.map((c) => c / 80_000)).toEqual([
      expect.closeTo(1 / 8, 2),
      expect.closeTo(2 / 8, 2),
      expect.closeTo(5 / 8, 2),
    ]);
  });

  it("health-based still finds the one healthy candidate among many ejected", () => {
    const list = candidates([...Array.from({ length: 500 }, () => ({ ejected: true })), { healthScore: 1 }]);
    expect(healthBased().select(list, ctx(seeded(1)))?.id).toBe("ep-500");
  });
});
