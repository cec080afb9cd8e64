import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";

/**
 * Prometheus metrics of one adapter in their own registry (nothing global, no timers): gauges are
 * read from live status at scrape time, counters follow the manager's events. Labels carry the
 * endpoint id and its agent's name, never its URL, and in cluster mode the `instance`. Tool calls
 * are counted by tool and, in `xiaozhi_caller_tool_calls_total`, by caller: MCP clients beside
 * agents, as `client:<name>` with their name.
 */
export function createMetrics(adapter: XiaozhiConnectionAdapter): { registry: Registry; dispose(): void } {
  const registry = new Registry();
  // In cluster mode each instance reports what it runs, labelled with its id; a scrape of every
  // instance sums to the cluster.
  if (adapter.cluster) registry.setDefaultLabels({ instance: adapter.cluster.instanceId });
  const endpoints = () => adapter.localEndpoints();
  new Gauge({
    name: "xiaozhi_endpoints",
    help: "Configured Xiaozhi endpoints by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.inc({ state: e.state });
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_up",
    help: "1 while the endpoint's link is connected",
    labelNames: ["endpoint", "name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.set({ endpoint: e.id, name: e.name ?? "" }, e.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_health_score",
    help: "Health score 0-100 of each endpoint",
    labelNames: ["endpoint", "name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints()) this.set({ endpoint: e.id, name: e.name ?? "" }, e.healthScore);
    },
  });
  new Gauge({
    name: "xiaozhi_endpoint_rtt_seconds",
    help: "Last measured round trip of each connected endpoint",
    labelNames: ["endpoint", "name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of endpoints())
        if (e.rttMs !== undefined) this.set({ endpoint: e.id, name: e.name ?? "" }, e.rttMs / 1000);
    },
  });
  new Gauge({
    name: "xiaozhi_tools",
    help: "Tools offered to the endpoints (enabled ones)",
    registers: [registry],
    async collect() {
      this.set((await adapter.listTools()).filter((t) => t.enabled).length);
    },
  });
  new Gauge({
    name: "xiaozhi_process_resident_memory_bytes",
    help: "Resident set size of the process",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  const connects = new Counter({
    name: "xiaozhi_endpoint_connects_total",
    help: "Successful connects per endpoint",
    labelNames: ["endpoint", "name"],
    registers: [registry],
  });
  const disconnects = new Counter({
    name: "xiaozhi_endpoint_disconnects_total",
    help: "Links that ended per endpoint, by close code",
    labelNames: ["endpoint", "name", "code"],
    registers: [registry],
  });
  const failures = new Counter({
    name: "xiaozhi_endpoint_connect_failures_total",
    help: "Failed connect attempts per endpoint",
    labelNames: ["endpoint", "name"],
    registers: [registry],
  });
  const republishes = new Counter({
    name: "xiaozhi_tools_republished_total",
    help: "Links reopened so an agent that lists tools only at connect gets the changed list, by cause",
    labelNames: ["endpoint", "name", "cause"],
    registers: [registry],
  });
  const reloads = new Counter({
    name: "xiaozhi_config_reloads_total",
    help: "Config changes seen on disk, by outcome",
    labelNames: ["result"],
    registers: [registry],
  });
  const calls = new Counter({
    name: "xiaozhi_tool_calls_total",
    help: "Tool calls agents and MCP clients made, by tool and outcome",
    labelNames: ["tool", "outcome"],
    registers: [registry],
  });
  // A counter of its own rather than more labels on the one above: callers times tools would
  // multiply the series, and the series already scraped keep their labels.
  const callers = new Counter({
    name: "xiaozhi_caller_tool_calls_total",
    help: "Tool calls by caller and outcome: an agent by endpoint id and name, an MCP client as client:<name> and its name",
    labelNames: ["endpoint", "name", "outcome"],
    registers: [registry],
  });
  const truncated = new Counter({
    name: "xiaozhi_tool_results_truncated_total",
    help: "Tool results cut to fit an endpoint's maxResultBytes, by tool",
    labelNames: ["tool"],
    registers: [registry],
  });
  const durations = new Histogram({
    name: "xiaozhi_tool_call_duration_seconds",
    help: "How long tool calls took, by tool",
    labelNames: ["tool"],
    buckets: [0.005, 0.025, 0.1, 0.5, 2.5, 10, 60],
    registers: [registry],
  });
  const manager = adapter.manager;
  const subscriptions = [
    manager.on("connected", ({ id, name }) => connects.inc({ endpoint: id, name: name ?? "" })),
    manager.on("disconnected", ({ id, name, code }) =>
      disconnects.inc({ endpoint: id, name: name ?? "", code: String(code) }),
    ),
    manager.on("connectFailed", ({ id, name }) => failures.inc({ endpoint: id, name: name ?? "" })),
    manager.on("republishing", ({ id, name, cause }) =>
      republishes.inc({ endpoint: id, name: name ?? "", cause }),
    ),
    adapter.on("call", ({ call }) => {
      const outcome = call.ok ? "ok" : "error";
      calls.inc({ tool: call.tool, outcome });
      callers.inc({ endpoint: call.endpoint, name: call.agent ?? "", outcome });
      durations.observe({ tool: call.tool }, call.ms / 1000);
      if (call.truncated) truncated.inc({ tool: call.tool });
    }),
    // One event per attempt: only the changes read from disk are reloads.
    adapter.on("config", ({ last }) => {
      if (last?.source === "file") reloads.inc({ result: last.outcome });
    }),
  ];
  return {
    registry,
    dispose: () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    },
  };
}
