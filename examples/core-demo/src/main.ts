/**
 * A runnable tour of @xiaozhi-connect/core: three simulated endpoints (one flaky, one that needs a
 * few tries to come up), live state changes, reconnects with jittered backoff, and operations
 * dispatched to whichever link is healthy. Stops cleanly on Ctrl-C.
 */
import { ConnectionManager } from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";

const endpoints = [
  "wss://demo.local/mcp/?token=demo-token-steady",
  "wss://demo.local/mcp/?token=demo-token-flaky",
  "wss://demo.local/mcp/?token=demo-token-slow-start",
];
const [steady, flaky, slow] = endpoints as [string, string, string];

const network = new MemoryNetwork();
network.behave(steady, { latencyMs: 20, rttMs: 3 });
network.behave(flaky, { latencyMs: 40, rttMs: 9 });
network.behave(slow, { connect: "refuse" });

const manager = new ConnectionManager({
  connectionFactory: network.factory,
  backoff: { initialDelay: 500, maxDelay: 4000 },
  minUptime: 3000,
});

const time = () => new Date().toISOString().slice(11, 23);
manager.on("stateChanged", (e) => console.log(`${time()}  ${e.url}  ${e.from} → ${e.to}`));
manager.on("reconnectScheduled", (e) =>
  console.log(`${time()}  ${e.url}  retry #${e.attempt} in ${e.delayMs} ms`),
);

await manager.initialize(endpoints);
console.log("xiaozhi-connect core demo: 3 simulated endpoints (Ctrl-C to stop)\n");
await manager.connect();

// The slow endpoint comes up after a few refused attempts; the flaky one drops every 6 s.
const fixSlow = setTimeout(() => network.behave(slow, { connect: "open", latencyMs: 10 }), 2500);
const flap = setInterval(() => network.connection(flaky)?.drop(4004, "Internal server error"), 6000);
let sent = 0;
const traffic = setInterval(() => {
  void manager
    .dispatch(
      (connection) => connection.notify?.("notifications/message", { n: ++sent }) ?? Promise.resolve(),
    )
    .catch((error: unknown) => console.log(`${time()}  dispatch failed: ${String(error)}`));
}, 1000);
const report = setInterval(() => {
  const rows = manager.getConnectionStatus();
  console.log(
    `\n${time()}  ${rows.filter((r) => r.connected).length}/${rows.length} connected, ${sent} operations dispatched`,
  );
  console.table(
    rows.map((r) => ({
      id: r.id,
      state: r.state,
      rttMs: r.rttMs ?? "-",
      attempts: r.reconnectAttempts,
      lastError: r.lastError ?? "",
    })),
  );
}, 5000);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  for (const timer of [flap, traffic, report]) clearInterval(timer);
  clearTimeout(fixSlow);
  await manager.cleanup();
  console.log(`\n${time()}  stopped cleanly`);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
