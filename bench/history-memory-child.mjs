// Run with --expose-gc: fills the history of 1,000 endpoints with an hour of fake time (a heartbeat
// every 5 s, a drop every 2 minutes with a distinct reason longer than the 120 characters kept, tool calls throughout) and
// prints the heap it holds after GC, per endpoint and in all, with the stated bound.
import { ActivityHistory } from "@xiaozhi-connect/webserver-adapter";

const endpoints = 1000;
const hour = 3_600_000;
const start = Date.UTC(2026, 0, 1);
let now = start;

const settle = () => {
  for (let i = 0; i < 4; i++) globalThis.gc();
  // Typed arrays keep their bytes outside the JS heap: count both.
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

const before = settle();
const history = new ActivityHistory({ now: () => now });
for (let at = start; at <= start + hour; at += 5_000) {
  now = at;
  for (let i = 0; i < endpoints; i++) {
    const id = `ep-${String(i).padStart(12, "0")}`;
    history.sample(id, `agent ${i}`, 90 + (i % 10), 20 + (i % 7), at);
    if ((at - start + i * 120) % 120_000 < 5_000) {
      // Two-byte characters: the largest a reason of 120 characters can be.
      const reason = `连接关闭 1006 at ${at} on ${id} `.padEnd(200, "断");
      history.transition(id, `agent ${i}`, false, reason, at);
      history.transition(id, `agent ${i}`, true, undefined, at + 1);
    }
  }
  history.call({
    at,
    endpoint: "ep-1",
    agent: "agent 1",
    tool: `svc__tool${(at / 5_000) % 50}`,
    ms: 3,
    ok: true,
  });
}
const after = settle();
const size = history.size;
const total = after - before;
console.log(
  JSON.stringify({
    total,
    perEndpoint: total / endpoints,
    points: size.points,
    periods: size.periods,
    // The bound ActivityHistory states: 120 points and 24 periods with reasons of 120 characters.
    boundPerEndpoint: 6.5 * 1024,
  }),
);
// Keep the history alive until measured.
if (history.size.endpoints !== endpoints) process.exit(1);
