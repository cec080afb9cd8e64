// A simulated Xiaozhi cloud in its own process for the benchmarks. Flags: --raw (no SDK client per
// session, for cheap idle sockets), --relay. Commands on stdin (restart MS, sessions, dropall, calls N
// TOOL [IN_FLIGHT], cpu, and for a cluster's sockets per token: mark, once N TIMEOUT_MS, window), one
// JSON answer per line on stdout.
import { createInterface } from "node:readline";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";

const raw = process.argv.includes("--raw");
const handshake = process.argv.includes("--handshake");
const cloud = await SimulatedXiaozhiCloud.start({
  relay: process.argv.includes("--relay"),
  ...(raw ? { behavior: { driver: "raw" } } : handshake ? { behavior: { driver: "handshake" } } : {}),
});
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

// Sockets per token, kept as they come and go: how many tokens have exactly one, how many two or
// more, and over a window (from `mark`) each connect's time, the longest time a token that had a
// socket went without one, and the moments a token had two.
const counts = new Map();
let once = 0;
let twice = 0;
const zeroSince = new Map();
const twiceSince = new Map();
const freshWindow = () => ({
  started: performance.now(),
  connects: [],
  closes: [],
  gaps: [],
  /** The longest gaps over a second: token, when its last socket closed (from the mark), for how long. */
  longGaps: [],
  longestGap: 0,
  overlaps: 0,
  longestOverlap: 0,
  /** The moments a token had two sockets: token, since when (from the mark), for how long. */
  twice: [],
});
let window = freshWindow();
const waiters = new Set();
cloud.onSessionCount((token, open) => {
  const now = performance.now();
  const before = counts.get(token) ?? 0;
  counts.set(token, open);
  if (before === 1) once--;
  if (open === 1) once++;
  if (before < 2 && open >= 2) {
    twice++;
    window.overlaps++;
    twiceSince.set(token, now);
  }
  if (before >= 2 && open < 2) {
    twice--;
    window.longestOverlap = Math.max(window.longestOverlap, now - twiceSince.get(token));
    if (window.twice.length < 50)
      window.twice.push({
        token,
        from: twiceSince.get(token) - window.started,
        ms: now - twiceSince.get(token),
      });
    twiceSince.delete(token);
  }
  if (open > before) window.connects.push(now);
  if (before > 0 && open === 0) {
    zeroSince.set(token, now);
    window.closes.push(now);
  }
  if (before === 0 && open > 0 && zeroSince.has(token)) {
    const gap = now - Math.max(zeroSince.get(token), window.started);
    window.gaps.push(gap);
    if (gap > 1000) {
      window.longGaps.push({ token, closedAt: zeroSince.get(token) - window.started, ms: gap });
      // The 50 longest.
      if (window.longGaps.length > 100)
        window.longGaps = window.longGaps.sort((a, b) => b.ms - a.ms).slice(0, 50);
    }
    window.longestGap = Math.max(window.longestGap, gap);
    zeroSince.delete(token);
  }
  for (const wake of waiters) wake();
});
/** How many of `times` fall in each 500 ms from `from`. */
function halves(times, from) {
  const counts = [];
  for (const t of times) {
    const b = Math.floor((t - from) / 500);
    while (counts.length <= b) counts.push(0);
    counts[b]++;
  }
  return counts;
}
/** Connects per 100 ms from the window's first connect to its last: the peak and the mean. */
function spread(times) {
  if (times.length === 0) return { peak: 0, mean: 0 };
  const first = times[0];
  const buckets = new Map();
  for (const t of times) {
    const b = Math.floor((t - first) / 100);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const span = Math.floor((times.at(-1) - first) / 100) + 1;
  return { peak: Math.max(...buckets.values()), mean: times.length / span };
}
send({ url: cloud.endpointUrl("TOKEN") });
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(" ");
  if (command === "restart") {
    await cloud.restart({ downtimeMs: Number(arg ?? 0) });
    send({ restarted: true });
  } else if (command === "sessions") {
    send({ sessions: cloud.sessions().length });
  } else if (command === "dropall") {
    // Every socket dropped without a close frame, as when a network path dies.
    const sessions = cloud.sessions();
    for (const session of sessions) session.terminate();
    send({ dropped: sessions.length });
  } else if (command === "calls") {
    // `calls N TOOL [IN_FLIGHT]`: N tools/call over the open sessions (default 16 in flight);
    // answers the counts and the median round trip in ms.
    const sessions = cloud.sessions().filter((s) => s.open);
    const [, , tool, inFlight] = line.trim().split(" ");
    const total = Number(arg);
    let next = 0;
    let ok = 0;
    let failed = 0;
    const times = [];
    const worker = async () => {
      while (next < total) {
        const session = sessions[next++ % sessions.length];
        const started = performance.now();
        try {
          const result = await session.callTool(tool, { text: "soak" });
          if (result.isError) failed++;
          else ok++;
        } catch {
          failed++;
        }
        times.push(performance.now() - started);
      }
    };
    await Promise.all(Array.from({ length: Number(inFlight ?? 16) }, worker));
    times.sort((a, b) => a - b);
    send({ ok, failed, p50: times[Math.floor(times.length / 2)] ?? 0 });
  } else if (command === "cpu") {
    // CPU the cloud process used so far, in ms: what the simulated agents cost beside the provider.
    const { user, system } = process.cpuUsage();
    send({ cpuMs: (user + system) / 1000 });
  } else if (command === "mark") {
    window = freshWindow();
    send({ marked: true });
  } else if (command === "once") {
    // `once N TIMEOUT_MS`: waits until N tokens have one socket each and none has two.
    const [, , timeout] = line.trim().split(" ");
    const started = performance.now();
    const ok = await new Promise((resolve) => {
      const check = () => {
        if (once !== Number(arg) || twice !== 0) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), Number(timeout));
      const done = (result) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(result);
      };
      waiters.add(check);
      check();
    });
    send({ ok, ms: performance.now() - started, once, twice });
  } else if (command === "window") {
    const now = performance.now();
    let longestGap = window.longestGap;
    for (const since of zeroSince.values())
      longestGap = Math.max(longestGap, now - Math.max(since, window.started));
    const gaps = [...window.gaps].sort((a, b) => a - b);
    const at = (p) => gaps[Math.min(gaps.length - 1, Math.floor((p / 100) * gaps.length))] ?? 0;
    const since = (times) => (times.length ? [times[0] - window.started, times.at(-1) - window.started] : []);
    send({
      connects: window.connects.length,
      ...spread(window.connects),
      // When the first and the last socket closed and opened, from the mark; gaps in percentiles.
      closedFromTo: since(window.closes),
      openedFromTo: since(window.connects),
      // Connects per 500 ms from the mark: where a slow start spends its time.
      perHalfSecond: halves(window.connects, window.started),
      gapP50: at(50),
      gapP90: at(90),
      longestGap,
      longGaps: window.longGaps.sort((a, b) => b.ms - a.ms).slice(0, 50),
      overlaps: window.overlaps,
      longestOverlap: window.longestOverlap,
      twice: window.twice,
    });
  } else if (command === "stop") {
    break;
  }
}
await cloud.stop();
process.exit(0);
