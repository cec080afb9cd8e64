// Strategy pick cost at 10, 1,000 and 10,000 candidates. The yardstick is the cheapest random pick:
// a random index that reads the candidate's health, measured in the same interleaved rounds. Picks
// touch random candidates, so cache misses grow with the list even at O(1); the O(1) check therefore
// compares a strategy's growth from 10 to 10,000 with the yardstick's own growth.
import { healthBased, leastInflight, random, roundRobin } from "@xiaozhi-connect/balancer";
import { healthScorer } from "@xiaozhi-connect/health";
import { median } from "./lib.mjs";

const sizes = [10, 1_000, 10_000];
const rounds = 15;
const batch = 2_000;
const batchesPerRound = 20;

function candidatesOf(n) {
  const scorer = healthScorer();
  const list = [];
  for (let i = 0; i < n; i++) {
    const id = `ep-${i}`;
    scorer.observe(id, { kind: "connected", at: Date.now() });
    scorer.observe(id, { kind: "rtt", at: Date.now(), ms: 20 + (i % 400) });
    // Live getters, like the manager's candidates.
    list.push({
      id,
      connection: {},
      weight: 1,
      inflight: i % 3,
      get healthScore() {
        return scorer.score(id);
      },
      get ejected() {
        return scorer.isEjected(id);
      },
    });
  }
  return list;
}

function timeBatches(pick, list, context, out) {
  for (let b = 0; b < batchesPerRound; b++) {
    const start = process.hrtime.bigint();
    let sink = 0;
    for (let i = 0; i < batch; i++) sink += pick(list, context) === undefined ? 1 : 0;
    const ns = Number(process.hrtime.bigint() - start) / batch;
    if (sink > 0) throw new Error("a strategy found no candidate");
    out.push(ns);
  }
}

export const strategyPick = {
  title: "Strategy pick cost",
  async run() {
    const makers = {
      "round-robin": roundRobin,
      random,
      "health-based": healthBased,
      "least-inflight": leastInflight,
    };
    const context = { attempt: 0, panic: false, random: Math.random };
    const samples = new Map();
    const lists = new Map(sizes.map((n) => [n, candidatesOf(n)]));
    const yardstick = (list, c) => {
      const candidate = list[Math.floor(c.random() * list.length)];
      return candidate.ejected ? undefined : candidate;
    };
    for (let round = 0; round < rounds; round++) {
      for (const n of sizes) {
        const list = lists.get(n);
        const key = `index@${n}`;
        timeBatches(yardstick, list, context, samples.get(key) ?? samples.set(key, []).get(key));
        for (const [name, make] of Object.entries(makers)) {
          const strategy = make();
          const k = `${name}@${n}`;
          timeBatches(
            (l, c) => strategy.select(l, c),
            list,
            context,
            samples.get(k) ?? samples.set(k, []).get(k),
          );
        }
      }
    }
    const rows = [];
    for (const name of Object.keys(makers)) {
      const at = Object.fromEntries(sizes.map((n) => [n, median(samples.get(`${name}@${n}`))]));
      for (const n of sizes) {
        const row = {
          measure: `${name}, ${n.toLocaleString("en")} candidates, p50 per pick`,
          value: `${at[n].toFixed(0)} ns`,
          yardstick: `random index ${median(samples.get(`index@${n}`)).toFixed(0)} ns`,
        };
        if (n === 10_000) Object.assign(row, { bar: "≤ 2000 ns", pass: at[n] <= 2000 });
        rows.push(row);
      }
      const growth = at[10_000] / at[10];
      const floor = median(samples.get("index@10000")) / median(samples.get("index@10"));
      rows.push({
        measure: `${name}, cost at 10,000 ÷ cost at 10`,
        value: growth.toFixed(2),
        yardstick: `random index ${floor.toFixed(2)}`,
        bar: "O(1): ≤ 2 × yardstick growth",
        pass: growth <= 2 * floor,
      });
    }
    return rows;
  },
};
